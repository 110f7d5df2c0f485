/**
 * Index locations: a folder, or a PostgreSQL URL (`postgres://user@host:port/db?prefix=...`, see
 * pg/url.ts). The one place that tells them apart; everything else goes through `OpenedIndex`
 * (types.ts) or the functions of write.ts and summary.ts.
 */
import { isPgUrl, parsePgUrl, redactUrl } from "../pg/url.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { FolderIndex } from "./folder.js";
import type { LocationKind, OpenedIndex } from "./types.js";

/** Options of `openIndex`. */
export interface OpenIndexOptions {
  /** Folder: check every file's CRC-32 on open (PlaidIndex.open's `verify`). Default true. Ignored for PostgreSQL. */
  verify?: boolean;
  /** onnxruntime settings of the scoring kernels. */
  runtime?: RuntimeOptions;
}

/** Which kind of location `location` names: "postgres" for a postgres:// or postgresql:// URL, else "folder". */
export function locationKind(location: string): LocationKind {
  return isPgUrl(location) ? "postgres" : "folder";
}

/** `location` as messages may print it: a URL with its password redacted, a folder as it is. */
export function printableLocation(location: string): string {
  return locationKind(location) === "postgres" ? redactUrl(location) : location;
}

/**
 * A default name for a served location: a folder's last component; a URL's table prefix without its
 * trailing "_" (INPUT_INVALID for a malformed URL).
 */
export function locationName(location: string, basename: (dir: string) => string): string {
  if (locationKind(location) === "folder") return basename(location);
  return parsePgUrl(location).prefix.replace(/_+$/, "") || "index";
}

/** `location` made absolute by `resolve` when it is a folder; a URL as it is. */
export function resolveLocation(location: string, resolve: (dir: string) => string): string {
  return locationKind(location) === "folder" ? resolve(location) : location;
}

/** Opens the index at `location` for search (a folder: PlaidIndex.open's codes; a URL: PgIndex.open's). */
export async function openIndex(location: string, opts: OpenIndexOptions = {}): Promise<OpenedIndex> {
  if (locationKind(location) === "postgres") {
    // Loaded on first use: node-postgres costs every folder user a few hundred ms of start-up otherwise.
    const { PostgresIndex } = await import("./postgres.js");
    return PostgresIndex.open(location, opts.runtime ? { runtime: opts.runtime } : {});
  }
  return FolderIndex.open(location, {
    ...(opts.verify !== undefined ? { verify: opts.verify } : {}),
    ...(opts.runtime ? { runtime: opts.runtime } : {}),
  });
}
