/**
 * What the benchmarks over real collections share: the collections in ../shared/datasets as BEIR
 * folders, the generated model they are encoded with, and the CLI run in-process.
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runMain } from "../../src/cli/main.js";
import { REPO_ROOT } from "./paths.js";

export const SHARED_DATASETS = path.resolve(REPO_ROOT, "..", "shared", "datasets");

/** `colts model tiny` arguments of the generated model the collection benchmarks use (random weights). */
export const MODEL_ARGS = ["--layout", "onnx", "--hidden", "64", "--layers", "2", "--dim", "32", "--seed", "1", "--document-length", "300", "--word-embedding-std", "0.2"];

/** Runs the CLI in-process; returns its stdout, throws with its stderr on a non-zero exit. */
export async function colts(argv: string[]): Promise<string> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  const errs: Buffer[] = [];
  out.on("data", (b: Buffer) => chunks.push(b));
  err.on("data", (b: Buffer) => errs.push(b));
  const code = await runMain(argv, { stdin: Readable.from([""]), stdout: out, stderr: err, env: process.env, cwd: REPO_ROOT });
  if (code !== 0) throw new Error(`colts ${argv.join(" ")} failed (${code}): ${Buffer.concat(errs).toString()}`);
  return Buffer.concat(chunks).toString();
}

/** `MODEL_ARGS` with another output dimension (the projection head's). */
export function modelArgs(dim: number): string[] {
  const args = [...MODEL_ARGS];
  args[args.indexOf("--dim") + 1] = String(dim);
  return args;
}

/** The generated model in `dir` (made once), `MODEL_ARGS` or the arguments given. */
export async function benchModel(dir: string, args: string[] = MODEL_ARGS): Promise<string> {
  if (!fs.existsSync(path.join(dir, "model.onnx"))) await colts(["model", "tiny", dir, ...args]);
  return dir;
}

/**
 * The collection as a BEIR folder: SciFact as shipped, the SMART collections (cacm, cisi, cranfield)
 * converted once into `workDir`. null when ../shared lacks it.
 */
export function beirFolder(name: string, workDir: string): string | null {
  if (name === "scifact") {
    const dir = path.join(SHARED_DATASETS, "scifact-beir", "beir-format");
    return fs.existsSync(dir) ? dir : null;
  }
  if (!fs.existsSync(path.join(SHARED_DATASETS, name))) return null;
  const dir = path.join(workDir, `beir-${name}`);
  if (!fs.existsSync(path.join(dir, "corpus.jsonl"))) {
    execSync(`node ${path.join(REPO_ROOT, "dist", "bench", "tools", "smart-to-beir.js")} ${name} ${dir}`, { stdio: "ignore" });
  }
  return dir;
}
