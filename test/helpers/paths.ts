/** Paths for tests: the repo root (found from this file, in src or dist) and per-test temp dirs. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { REPO_ROOT } from "../../bench/tools/paths.js";


export const repoRoot = REPO_ROOT;

export function fixture(...parts: string[]): string {
  return path.join(repoRoot, "test", "fixtures", ...parts);
}

/** A fresh temp dir removed when the test (or suite) ends. */
/** Anything with an `after` hook: a TestContext, or `{ after }` from node:test for suite-level dirs. */
export interface Cleanup {
  after(fn: () => void): void;
}

export function tempDir(t: Cleanup, prefix = "colts-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Copies a folder recursively (fixtures into a temp model dir). */
export function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

/**
 * A temp dir for a whole test file or describe block: call at module top level or in a describe
 * body; removed when that scope ends.
 */
export function suiteDir(prefix = "colts-suite-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
