/**
 * `colts index build` end to end (reading, encoding, k-means, compression, writing), as a user runs
 * it, for two builds of colts side by side: `--before` (another checkout, built, e.g. one that encoded
 * the codec sample twice) and this one. Each run is a fresh process timed by
 * /usr/bin/time (wall seconds and peak RSS); the two builds alternate within each repetition, the
 * first one swapping every repetition, so drift on a shared machine hits both.
 *
 *   npm run build && node dist/bench/build-end-to-end.js --before ../old-checkout
 *     [--cases scifact:small,cacm:small,scifact:384,cacm:384,100k:small] [--reps 1]
 *
 * Models are generated (`colts model tiny`, random weights, real tokenizer): "small" is the collection
 * benchmarks' model (bench/tools/collections.ts: hidden 64, 2 layers, dim 32); "384" has the shape of
 * answerai-colbert-small-v1 (hidden 384, 12 layers, 12 heads, FFN 1536, dim 96; documents of up to 180 tokens, `colts model tiny`'s default). "100k" is 100,000 documents
 * cycled from the texts of SciFact, CACM, CISI and Cranfield (distinct ids; real lengths).
 * Collections come from ../shared/datasets. Results: bench/out/build-end-to-end/results.json.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beirFolder, benchModel, MODEL_ARGS } from "./tools/collections.js";
import { REPO_ROOT } from "./tools/paths.js";
import { stringFlag as flag } from "./tools/args.js";

const OUT = path.join(REPO_ROOT, "bench", "out", "build-end-to-end");
const BEFORE = flag("--before", "");
const CASES = flag("--cases", "scifact:small,cacm:small,scifact:384,cacm:384,100k:small").split(",");
const REPS = Number(flag("--reps", "1"));
const MODEL_384 = ["--layout", "onnx", "--hidden", "384", "--layers", "12", "--heads", "12", "--dim", "96", "--seed", "1"];

interface Run {
  case: string;
  build: "before" | "after";
  rep: number;
  seconds: number;
  peakRssMiB: number;
  documents: number;
}

/** One `colts index build` in a fresh process: wall seconds and peak RSS from /usr/bin/time. */
function timedBuild(checkout: string, model: string, input: string, dir: string): { seconds: number; peakRssMiB: number; stdout: string } {
  fs.rmSync(dir, { recursive: true, force: true });
  const report = path.join(OUT, "time.txt");
  const stdout = execFileSync("/usr/bin/time", ["-o", report, "-f", "%e %M", process.execPath, path.join(checkout, "bin", "colts.js"), "index", "build", dir, "--model", model, "--input", input], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 26,
  });
  const [secs, kb] = fs.readFileSync(report, "utf8").trim().split(/\s+/).slice(-2).map(Number) as [number, number];
  return { seconds: secs, peakRssMiB: kb / 1024, stdout };
}

/** 100,000 documents cycled from the SMART collections' and SciFact's texts, with distinct ids. */
function corpus100k(work: string): string {
  const file = path.join(work, "corpus-100k.jsonl");
  if (fs.existsSync(file)) return file;
  const texts: string[] = [];
  for (const name of ["scifact", "cacm", "cisi", "cranfield"]) {
    const dir = beirFolder(name, work);
    if (!dir) throw new Error(`${name} is missing from ../shared/datasets`);
    for (const line of fs.readFileSync(path.join(dir, "corpus.jsonl"), "utf8").split("\n")) {
      if (line.trim() === "") continue;
      const d = JSON.parse(line) as { title?: string; text: string };
      texts.push(d.title ? `${d.title} ${d.text}` : d.text);
    }
  }
  const lines = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ _id: `d${i}`, text: texts[i % texts.length] }));
  fs.writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

async function main(): Promise<void> {
  if (!BEFORE || !fs.existsSync(path.join(BEFORE, "dist", "src", "cli", "main.js"))) throw new Error("--before must name another checkout, built (its dist/src/cli/main.js)");
  fs.mkdirSync(OUT, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "colts-build-e2e-"));
  const after = REPO_ROOT;
  const models: Record<string, string> = {
    small: await benchModel(path.join(work, "model-small"), MODEL_ARGS),
    "384": await benchModel(path.join(work, "model-384"), MODEL_384),
  };
  const runs: Run[] = [];
  try {
    for (const c of CASES) {
      const [data, modelName] = c.split(":") as [string, string];
      const model = models[modelName];
      if (!model) throw new Error(`unknown model ${modelName}`);
      const input = data === "100k" ? corpus100k(work) : beirFolder(data, work);
      if (!input) throw new Error(`${data} is missing from ../shared/datasets`);
      for (let rep = 0; rep < REPS; rep++) {
        const order: ("before" | "after")[] = rep % 2 === 0 ? ["before", "after"] : ["after", "before"];
        for (const build of order) {
          const r = timedBuild(build === "before" ? BEFORE : after, model, input, path.join(work, "idx"));
          const documents = Number(/: (\d+) documents/.exec(r.stdout)?.[1] ?? NaN);
          const run: Run = { case: c, build, rep, seconds: r.seconds, peakRssMiB: Math.round(r.peakRssMiB), documents };
          runs.push(run);
          console.log(JSON.stringify(run));
        }
      }
    }
  } finally {
    fs.writeFileSync(path.join(OUT, "results.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, runs }, null, 2));
    fs.rmSync(work, { recursive: true, force: true });
  }
  for (const c of CASES) {
    const of = (b: string): number[] => runs.filter((r) => r.case === c && r.build === b).map((r) => r.seconds);
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    console.log(`${c}: before ${of("before").join(", ")} s, after ${of("after").join(", ")} s, ratio ${(mean(of("before")) / mean(of("after"))).toFixed(2)}x`);
  }
}

await main();
