/**
 * colts document-encoding throughput by batch size (same model and documents as the encode
 * benchmark: the generated answerai-colbert-small-v1-shaped model, SciFact abstracts), one pass per
 * batch size after a warm-up. Writes bench/out/encode-batch-sweep.json and a chart.
 *
 *   npm run build && node dist/bench/encode-batch-sweep.js [--docs 32] [--sizes 1,4,16,32]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { ColBERT } from "../src/encode/colbert.js";
import { writeTinyModel } from "../src/testing/tiny-model.js";
import { lineChart } from "./tools/svg-chart.js";
import { REPO_ROOT } from "./tools/paths.js";

const ROOT = REPO_ROOT;
const CORPUS = path.resolve(ROOT, "..", "shared", "datasets", "scifact-beir", "beir-format", "corpus.jsonl");
const MODEL = path.join(ROOT, "bench", "out", "colbert-h384-l12-seed1");

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

async function firstDocs(n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readline.createInterface({ input: fs.createReadStream(CORPUS) })) {
    if (out.length >= n) break;
    const d = JSON.parse(line) as { title?: string; text: string };
    out.push(d.title ? `${d.title} ${d.text}` : d.text);
  }
  return out;
}

async function main(): Promise<void> {
  if (!fs.existsSync(CORPUS)) {
    console.log(`skipped: ${CORPUS} is absent`);
    return;
  }
  if (!fs.existsSync(path.join(MODEL, "onnx", "model.onnx"))) {
    await writeTinyModel(MODEL, { layout: "pylate", hidden: 384, layers: 12, heads: 12, intermediate: 1536, dim: 96, documentLength: 300, seed: 1 });
  }
  const texts = await firstDocs(Number(arg("--docs", "32")));
  const sizes = arg("--sizes", "1,4,16,32").split(",").map(Number);
  const model = await ColBERT.load(MODEL, { workers: 1 });
  const tokens = texts.reduce((a, t) => a + model.tokenizer.tokenizeDocument(t).ids.length, 0);
  await model.encodeDocuments(texts.slice(0, 4));
  const points: [number, number][] = [];
  for (const batchSize of sizes) {
    const t0 = performance.now();
    await model.encodeDocuments(texts, { batchSize });
    const s = (performance.now() - t0) / 1000;
    points.push([batchSize, tokens / s]);
    console.log(`batch ${batchSize}: ${(tokens / s).toFixed(0)} tokens/s (${s.toFixed(1)} s)`);
  }
  await model.close();
  const out = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, docs: texts.length, tokens, points };
  fs.mkdirSync(path.join(ROOT, "bench", "out"), { recursive: true });
  fs.writeFileSync(path.join(ROOT, "bench", "out", "encode-batch-sweep.json"), `${JSON.stringify(out)}\n`);
  fs.mkdirSync(path.join(ROOT, "bench", "charts"), { recursive: true });
  fs.writeFileSync(
    path.join(ROOT, "bench", "charts", "encode-batch-sweep.svg"),
    lineChart({ title: `colts encodeDocuments throughput by batch size (${texts.length} SciFact docs)`, xLabel: "batch size (log scale)", yLabel: "tokens/s", series: [{ name: "colts, 1 worker x 2 threads", points }], logX: true }),
  );
  const section = [
    `## ${out.date.slice(0, 16).replace("T", " ")} UTC: colts encode throughput by batch size`,
    "",
    `- Machine: ${out.cpu ?? "?"}, ${out.cores} cores, Node ${out.node}; ${texts.length} SciFact documents, ${tokens} tokens; model as in the encode benchmark.`,
    `- Command: \`node dist/bench/encode-batch-sweep.js --docs ${texts.length} --sizes ${sizes.join(",")}\``,
    "",
    "| batch size | tokens/s |",
    "|---:|---:|",
    ...points.map(([b, t]) => `| ${b} | ${t.toFixed(0)} |`),
    "",
    "Chart: [charts/encode-batch-sweep.svg](charts/encode-batch-sweep.svg)",
    "",
  ].join("\n");
  fs.appendFileSync(path.join(ROOT, "bench", "RESULTS.md"), `\n${section}`);
}

await main();
