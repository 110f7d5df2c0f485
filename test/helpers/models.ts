/** Generated models for tests. */
import fs from "node:fs";
import path from "node:path";
import { writeTinyModel, type TinyModelOptions } from "../../src/testing/tiny-model.js";
import { tempDir, type Cleanup } from "./paths.js";

/** Small and fast: hidden 32, 1 layer, 2 heads, dim 16. */
export const SMALL: TinyModelOptions = { hidden: 32, layers: 1, heads: 2, dim: 16, seed: 7 };

/**
 * Writes a tiny model into a new folder: under `where` when it is a path (suite-level dirs from
 * suiteDir()), else in a temp dir removed after the test `where` is.
 */
export async function tinyModel(where: Cleanup | string, opts: TinyModelOptions = {}): Promise<string> {
  const base = typeof where === "string" ? where : tempDir(where);
  const dir = fs.mkdtempSync(path.join(base, `${opts.layout ?? "pylate"}-`));
  await writeTinyModel(dir, { ...SMALL, ...opts });
  return dir;
}
