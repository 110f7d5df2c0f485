/**
 * The web UI and the API docs page: plain files in the package's `ui/` folder (no build step),
 * served from a fixed list (nothing else on disk is reachable) with a strict Content-Security-Policy.
 * Resolved from this module's location, so it works from dist/ in the repository and from an
 * installed package alike (both ship `ui/` beside `dist/`).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ColtsError } from "../errors.js";

/** dist/src/server/static.js -> <package root>/ui */
export const UI_DIR = fileURLToPath(new URL("../../../ui/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Files that may be served, by URL name. */
export const UI_FILES = ["index.html", "app.js", "style.css", "docs.html", "docs.js"] as const;

export const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** Reads every UI file once at start (they are small) so requests never touch the disk. */
export function loadUi(dir = UI_DIR): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  for (const name of UI_FILES) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new ColtsError("INTERNAL", `the web UI file ${name} is missing from the package`);
    out.set(name, { body: fs.readFileSync(file), type: TYPES[path.extname(name)] ?? "application/octet-stream" });
  }
  return out;
}
