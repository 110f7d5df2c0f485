/**
 * The encoder graph colts builds from a BERT model.safetensors, plain operators vs onnxruntime's
 * contrib blocks (`BertOnnxOptions.fused`: Attention, SkipLayerNormalization, BiasGelu), end to end
 * through `InProcessEncoder` (tokenize, run, head in TypeScript, normalise) on SciFact documents.
 * Same model (the 384 x 12 shape of bench/encode-throughput.ts), same documents, same process,
 * repetitions alternating which graph goes first; vectors compared before any figure is printed.
 *
 *   npx tsc -p . && node dist/bench/fused-graph.js [--docs 64] [--reps 5] [--threads 2]
 *
 * Prints a markdown table (machine, date, command, paired ratio); appends nothing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { InProcessEncoder } from "../src/encode/encoder.js";
import type { MultiVector } from "../src/encode/multivector.js";
import { bertGraphFromSafetensors, findBertBackbone } from "../src/model/convert.js";
import { readModelFolder } from "../src/model/layout.js";
import { writeTinyModel } from "../src/testing/tiny-model.js";
import { REPO_ROOT } from "./tools/paths.js";

const MODEL_DIR = path.join(REPO_ROOT, "bench", "out", "colbert-h384-l12-seed1");
const CORPUS = path.resolve(REPO_ROOT, "..", "shared", "datasets", "scifact-beir", "beir-format", "corpus.jsonl");

const { values } = parseArgs({ options: { docs: { type: "string", default: "64" }, reps: { type: "string", default: "5" }, threads: { type: "string" } } });
const docs = Number(values.docs);
const reps = Number(values.reps);
const threads = Number(values.threads ?? os.availableParallelism());

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function maxDiff(a: readonly MultiVector[], b: readonly MultiVector[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    const y = b[i] as MultiVector;
    if (x.vectors.length !== y.vectors.length) throw new Error(`document ${i}: different kept tokens`);
    x.vectors.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - (y.vectors[j] as number)))));
  });
  return worst;
}

async function main(): Promise<void> {
  if (!fs.existsSync(CORPUS)) {
    console.log(`SKIP: ${CORPUS} not found (../shared next to the repository). Nothing measured.`);
    return;
  }
  if (!fs.existsSync(path.join(MODEL_DIR, "model.safetensors"))) {
    await writeTinyModel(MODEL_DIR, { layout: "pylate", hidden: 384, layers: 12, heads: 12, intermediate: 1536, dim: 96, documentLength: 300, seed: 1 });
  }
  const texts = fs
    .readFileSync(CORPUS, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(0, docs)
    .map((l) => {
      const d = JSON.parse(l) as { title?: string; text?: string };
      return `${d.title ?? ""} ${d.text ?? ""}`;
    });
  const backbone = findBertBackbone(MODEL_DIR);
  if (!backbone) throw new Error(`${MODEL_DIR}: no BERT model.safetensors`);
  const spec = readModelFolder(MODEL_DIR);
  const runtime = { intraOpThreads: threads };
  const encoders = {
    plain: await InProcessEncoder.create(spec, runtime, bertGraphFromSafetensors(backbone.file, backbone.config)),
    fused: await InProcessEncoder.create(spec, runtime, bertGraphFromSafetensors(backbone.file, backbone.config, { fused: true })),
  };
  const names = ["plain", "fused"] as const;
  const seconds: Record<(typeof names)[number], number[]> = { plain: [], fused: [] };
  const outputs: Partial<Record<(typeof names)[number], MultiVector[]>> = {};
  for (const n of names) await encoders[n].encodeDocuments(texts.slice(0, 4)); // warm-up
  const tokens = texts.reduce((s, t) => s + encoders.plain.tokenizer.tokenizeDocument(t).ids.length, 0);
  for (let r = 0; r < reps; r++) {
    const order = r % 2 === 0 ? names : ([...names].reverse() as unknown as typeof names);
    const line: string[] = [];
    for (const n of order) {
      const t0 = performance.now();
      outputs[n] = await encoders[n].encodeDocuments(texts);
      const s = (performance.now() - t0) / 1000;
      seconds[n].push(s);
      line.push(`${n} ${(tokens / s).toFixed(0)} tokens/s`);
    }
    console.log(`rep ${r + 1}/${reps}: ${line.join(", ")}`);
  }
  for (const n of names) await encoders[n].close();
  const diff = maxDiff(outputs.plain ?? [], outputs.fused ?? []);
  const ratios = seconds.plain.map((p, r) => p / (seconds.fused[r] as number));
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(
    [
      "",
      `- Machine: ${cpu}, ${os.availableParallelism()} cores, Node ${process.version}; ${new Date().toISOString()}`,
      `- Command: \`node dist/bench/fused-graph.js ${process.argv.slice(2).join(" ")}\``,
      `- ${texts.length} SciFact documents, ${tokens} tokens; ${threads} intra-op threads; ${reps} repetitions alternating`,
      `- Vectors: max |fused - plain| ${diff.toExponential(2)}`,
      "",
      "| graph | median s | tokens/s |",
      "|---|---:|---:|",
      ...names.map((n) => `| ${n} | ${median(seconds[n]).toFixed(2)} | ${(tokens / median(seconds[n])).toFixed(0)} |`),
      "",
      `fused / plain: ${median(ratios).toFixed(2)}x (paired median; per repetition ${ratios.map((x) => x.toFixed(2)).join(", ")})`,
    ].join("\n"),
  );
  if (!(diff < 1e-5)) {
    console.error(`FAIL: fused and plain vectors differ by ${diff}`);
    process.exitCode = 1;
  }
}

await main();
