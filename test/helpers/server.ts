/** A small served index for server tests: a generated model and the first CACM documents. */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { ColBERT } from "../../src/encode/colbert.js";
import { encodedCorpusSource } from "../../src/plaid/corpus.js";
import { buildIndex } from "../../src/plaid/writer.js";
import { tinyModel } from "./models.js";
import { fixture, repoRoot, type Cleanup } from "./paths.js";

export interface ServedFixture {
  model: string;
  index: string;
  /** Ids and years of the indexed documents, in corpus order. */
  docs: { id: string; year: number; text: string }[];
}

/** Builds (under `root`) a model and an index of the first `count` CACM documents with year metadata and texts. */
export async function servedFixture(root: string, count = 120): Promise<ServedFixture> {
  const model = await tinyModel(root, { layout: "onnx", hidden: 64, layers: 1, heads: 4, dim: 32, wordEmbeddingStd: 0.2 });
  const lines = fs.readFileSync(fixture("cacm-slice", "corpus.jsonl"), "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, count);
  const corpus = path.join(root, "corpus.jsonl");
  fs.writeFileSync(corpus, `${lines.join("\n")}\n`);
  const docs = lines.map((l) => {
    const o = JSON.parse(l) as { _id: string; year: number; title: string; text: string };
    return { id: o._id, year: o.year, text: `${o.title} ${o.text}` };
  });
  const colbert = await ColBERT.load(model, { workers: 0 });
  const index = path.join(root, "cacm");
  try {
    await buildIndex(index, await encodedCorpusSource(corpus, colbert, { metadataFields: ["year"] }), colbert.dim, { model, numCentroids: 32 });
  } finally {
    await colbert.close();
  }
  return { model, index, docs };
}

/** A `colts serve` child process, started and listening. */
export interface ServeProcess {
  /** The process (killed with SIGKILL when the test ends, if still running). */
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** The URL it listens on, from its "listening on" line. */
  base: string;
  /** Resolves to the exit code. */
  exited: Promise<number | null>;
  /** Everything it wrote to stderr so far. */
  stderr: () => string;
}

/** Runs `colts serve <args>` as a child process and waits until it listens. */
export async function spawnServe(t: Cleanup, args: string[], env: Record<string, string>): Promise<ServeProcess> {
  const child = spawn(process.execPath, [path.join(repoRoot, "bin", "colts.js"), "serve", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (m?.[1]) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
  });
  return { child, base, exited, stderr: () => stderr };
}
