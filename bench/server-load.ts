/**
 * Load test of `colts serve` on loopback, bounded in time.
 *
 *   npx tsc -p . && node dist/bench/server-load.js [--docs 100000] [--tokens 12] [--duration 8]
 *     [--workers 2] [--clients 1,8,32] [--out bench/out/server-load] [--rebuild] [--no-results]
 *
 * Index: `docs` synthetic documents (clustered unit vectors, dim 32, `tokens` +- 50% vectors each;
 * a pure function of the document number), built once and cached in the output folder, with a
 * generated tiny model (dim 32) recorded as the index's model. The tiny model's vectors are not the
 * synthetic ones, so text queries are only a cost measurement (their rankings mean nothing).
 *
 * Phases, each for `duration` seconds with autocannon at every client count:
 *   - search: POST /indexes/bench/search with pre-encoded query vectors ({"query": {"vectors"}},
 *     32 vectors drawn like a document's), k 10, PLAID defaults;
 *   - search + encoding: the same route with text queries, encoded by the tiny model in the
 *     server's workers (micro-batched);
 *   - in-process baselines, one client, same duration: PlaidIndex.search on the same vectors, and
 *     Searcher.search (encode with ColBERT workers: 0, then search) on the same texts.
 * The server runs as a child process (`colts serve`) so the load generator does not share its event
 * loop. Errors and non-2xx answers are counted and must be 0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon, { type Result } from "autocannon";
import { ColBERT } from "../src/encode/colbert.js";
import { PlaidIndex, type IndexInfo } from "../src/plaid/plaid-index.js";
import type { EmbeddedDoc, EmbeddingSource } from "../src/plaid/source.js";
import { buildIndex } from "../src/plaid/writer.js";
import { writeTinyModel } from "../src/testing/tiny-model.js";
import { Searcher } from "../src/search/searcher.js";
import { Rng } from "../src/util/rng.js";
import { REPO_ROOT } from "./tools/paths.js";

const { values: argv } = parseArgs({
  options: {
    docs: { type: "string" },
    tokens: { type: "string" },
    duration: { type: "string" },
    workers: { type: "string" },
    clients: { type: "string" },
    out: { type: "string" },
    rebuild: { type: "boolean" },
    "no-results": { type: "boolean" },
  },
});
const DOCS = Number(argv.docs ?? 100_000);
const TOKENS = Number(argv.tokens ?? 12);
const DURATION = Number(argv.duration ?? 8);
const WORKERS = Number(argv.workers ?? 2);
const CLIENTS = (argv.clients ?? "1,8,32").split(",").map(Number);
const OUT = path.resolve(argv.out ?? path.join(REPO_ROOT, "bench", "out", "server-load"));
const DIM = 32;
const TOPICS = 512;
const SEED = 11;

// ---------------------------------------------------------------------------------------------
// Data: topic centres on the unit sphere; a document's vectors are noisy copies of 2 topics' centres.

const centres = (() => {
  const rng = new Rng(SEED);
  return Array.from({ length: TOPICS }, () => rng.normalArray(DIM, 1));
})();

function vectorsFor(rng: Rng, n: number): Float32Array {
  const topics = [rng.int(TOPICS), rng.int(TOPICS)];
  const v = new Float32Array(n * DIM);
  for (let t = 0; t < n; t++) {
    const c = centres[topics[t % 2] as number] as Float32Array;
    let norm = 0;
    for (let k = 0; k < DIM; k++) {
      const x = (c[k] as number) + 0.4 * rng.normal();
      v[t * DIM + k] = x;
      norm += x * x;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let k = 0; k < DIM; k++) v[t * DIM + k] = (v[t * DIM + k] as number) * inv;
  }
  return v;
}

function doc(i: number): EmbeddedDoc {
  const rng = new Rng(SEED * 1_000_003 + i);
  const n = Math.max(2, Math.round(TOKENS * (0.5 + rng.next())));
  return { id: `d${i}`, vectors: vectorsFor(rng, n), n, metadata: { group: i % 10 } };
}

function source(): EmbeddingSource {
  return {
    count: DOCS,
    async *batches(only?: ReadonlySet<number>, except?: ReadonlySet<number>) {
      let batch: EmbeddedDoc[] = [];
      for (let i = 0; i < DOCS; i++) {
        if ((only && !only.has(i)) || except?.has(i)) continue;
        batch.push(doc(i));
        if (batch.length === 2000) {
          yield batch;
          batch = [];
          await Promise.resolve();
        }
      }
      if (batch.length) yield batch;
    },
  };
}

const WORDS = "algorithm matrix sorting compiler parallel memory search numerical language program data system network graph storage function recursive iterative convergence".split(" ");

function textQueries(n: number): string[] {
  const rng = new Rng(SEED + 1);
  return Array.from({ length: n }, () => Array.from({ length: 4 + rng.int(5) }, () => WORDS[rng.int(WORDS.length)]).join(" "));
}

function vectorQueries(n: number): number[][][] {
  const rng = new Rng(SEED + 2);
  return Array.from({ length: n }, () => {
    const v = vectorsFor(rng, 32);
    return Array.from({ length: 32 }, (_, t) => Array.from(v.subarray(t * DIM, (t + 1) * DIM)));
  });
}

// ---------------------------------------------------------------------------------------------

async function prepare(): Promise<{ model: string; index: string; buildSeconds: number | null }> {
  const model = path.join(OUT, "model");
  const index = path.join(OUT, "index");
  if (argv.rebuild) fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(path.join(model, "model.onnx"))) {
    fs.mkdirSync(model, { recursive: true });
    await writeTinyModel(model, { layout: "onnx", hidden: 64, layers: 1, heads: 4, dim: DIM, seed: 5 });
  }
  let buildSeconds: number | null = null;
  if (!fs.existsSync(path.join(index, "manifest.json"))) {
    const t0 = performance.now();
    await buildIndex(index, source(), DIM, { model, numCentroids: 1024, bm25: false, kmeansMaxPointsPerCentroid: 64 });
    buildSeconds = (performance.now() - t0) / 1000;
    console.error(`built ${DOCS} docs in ${buildSeconds.toFixed(1)} s`);
  }
  return { model, index, buildSeconds };
}

async function startServer(index: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "colts.js"), "serve", `bench=${index}`, "--port", "0", "--workers", String(WORKERS), "--max-queue", "1024"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, COLTS_TOKEN: "" },
  });
  let stderr = "";
  const base = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m?.[1]) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`server exited: ${stderr}`)));
  });
  return { child, base };
}

interface Row {
  phase: string;
  clients: number;
  qps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

async function load(base: string, phase: string, bodies: string[], clients: number): Promise<Row> {
  let next = 0;
  const r: Result = await autocannon({
    url: `${base}/indexes/bench/search`,
    connections: clients,
    duration: DURATION,
    timeout: 30,
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
      },
    ],
  });
  return { phase, clients, qps: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, errors: r.errors + r.timeouts + r.non2xx };
}

/** The two in-process rows (vectors: PlaidIndex.search; text: Searcher.search), one client each. */
async function baselines(index: string, model: string, threads: number, vectors: number[][][], texts: string[], when: string, rows: Row[]): Promise<IndexInfo> {
  const plaid = await PlaidIndex.open(index, { runtime: { intraOpThreads: threads } });
  const info = plaid.info();
  const flat = vectors.map((q) => ({ vectors: Float32Array.from(q.flat()), tokens: q.length, dim: DIM }));
  rows.push(await inProcess(`in-process PlaidIndex.search (vectors), ${when}`, (i) => plaid.search(flat[i % flat.length]!, { k: 10 })));
  await plaid.close();
  const colbert = await ColBERT.load(model, { workers: 0, threads });
  const searcher = await Searcher.open(index, { colbert, threads });
  rows.push(await inProcess(`in-process Searcher.search (text: encode + search), ${when}`, (i) => searcher.search([texts[i % texts.length]!], { k: 10 })));
  await searcher.close();
  await colbert.close();
  return info;
}

/** Encode batches and texts sent to the workers so far (from /metrics). */
async function encodeBatches(base: string): Promise<{ batches: number; texts: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
  return { batches: value("colts_encode_batches_total"), texts: value("colts_encode_batch_texts_total") };
}

/** One client calling the library back to back for DURATION seconds. */
async function inProcess(phase: string, call: (i: number) => Promise<unknown>): Promise<Row> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) await call(i); // warm-up
  const end = performance.now() + DURATION * 1000;
  let i = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    await call(i++);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const q = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? NaN;
  const total = times.reduce((a, b) => a + b, 0);
  return { phase, clients: 1, qps: (times.length / total) * 1000, p50: q(0.5), p99: q(0.99), requests: times.length, errors: 0 };
}

async function main(): Promise<void> {
  const { model, index, buildSeconds } = await prepare();
  const texts = textQueries(200);
  const vectors = vectorQueries(200);
  const rows: Row[] = [];

  // In-process baselines before and after the server phases (the machine's load drifts; the
  // overhead ratios use the mean of the two). Same onnxruntime threads as each server worker gets
  // (cores / workers), so the comparison is of the HTTP + worker hand-off, not of thread settings.
  const threads = Math.max(1, Math.floor(os.availableParallelism() / WORKERS));
  const info = await baselines(index, model, threads, vectors, texts, "before", rows);
  const { child, base } = await startServer(index);
  try {
    const vecBodies = vectors.map((v) => JSON.stringify({ query: { vectors: v }, k: 10 }));
    const textBodies = texts.map((t) => JSON.stringify({ query: t, k: 10 }));
    await load(base, "warm-up", vecBodies, 2);
    for (const c of CLIENTS) rows.push(await load(base, "server search (vectors)", vecBodies, c));
    for (const c of CLIENTS) {
      const before = await encodeBatches(base);
      const row = await load(base, "server search + encoding (text)", textBodies, c);
      const after = await encodeBatches(base);
      const meanBatch = (after.texts - before.texts) / Math.max(1, after.batches - before.batches);
      rows.push({ ...row, phase: `${row.phase}, mean encode batch ${meanBatch.toFixed(1)}` });
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  await baselines(index, model, threads, vectors, texts, "after", rows);

  const table = [
    "| phase | clients | QPS | p50 ms | p99 ms | requests | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.phase} | ${r.clients} | ${r.qps.toFixed(1)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.requests} | ${r.errors} |`),
  ].join("\n");
  const find = (phase: string, c: number): Row | undefined => rows.find((r) => r.phase.startsWith(phase) && r.clients === c);
  const ratio = (a: Row | undefined, b: Row | undefined, f: (r: Row) => number): string => (a && b ? (f(a) / f(b)).toFixed(2) : "n/a");
  const vec1 = find("server search (vectors)", 1);
  const txt1 = find("server search + encoding", 1);
  const mean = (prefix: string): Row | undefined => {
    const rs = rows.filter((r) => r.phase.startsWith(prefix));
    if (rs.length === 0) return undefined;
    const avg = (f: (r: Row) => number): number => rs.reduce((a, r) => a + f(r), 0) / rs.length;
    return { phase: prefix, clients: 1, qps: avg((r) => r.qps), p50: avg((r) => r.p50), p99: avg((r) => r.p99), requests: 0, errors: 0 };
  };
  const libVec = mean("in-process PlaidIndex");
  const libTxt = mean("in-process Searcher");
  const overhead = [
    `Server overhead at 1 client (server / mean of the in-process runs): vectors p50 ${ratio(vec1, libVec, (r) => r.p50)}x, QPS ${ratio(vec1, libVec, (r) => r.qps)}x; text p50 ${ratio(txt1, libTxt, (r) => r.p50)}x, QPS ${ratio(txt1, libTxt, (r) => r.qps)}x.`,
    `Errors (connection errors + timeouts + non-2xx) over all server phases: ${rows.filter((r) => r.phase.startsWith("server")).reduce((a, r) => a + r.errors, 0)}.`,
  ].join("\n");
  const section = `
## Server load test, ${DOCS.toLocaleString("en")} documents (${new Date().toISOString().slice(0, 10)})

- Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} cores (shared with other jobs: numbers are noisy), ${Math.round(os.totalmem() / 2 ** 30)} GiB; Node ${process.version}
- Command: \`node dist/bench/server-load.js --docs ${DOCS} --tokens ${TOKENS} --duration ${DURATION} --workers ${WORKERS} --clients ${CLIENTS.join(",")}\`
- Index: ${info.documents.toLocaleString("en")} synthetic documents, ${info.vectors.toLocaleString("en")} vectors (dim ${DIM}, nbits ${info.nbits}, ${info.centroids} centroids)${buildSeconds !== null ? `, built in ${buildSeconds.toFixed(1)} s` : ""}; PLAID defaults, k 10.
- Server: \`colts serve\` child process, ${WORKERS} worker threads, loopback; in-process baselines with the same onnxruntime threads as one worker (${Math.max(1, Math.floor(os.availableParallelism() / WORKERS))}), one client, run before and after the server phases; load by autocannon, ${DURATION} s per row. Vector queries: 32 x ${DIM} floats in JSON; text queries: 4-8 words encoded by a generated tiny model (dim ${DIM}, 1 layer) in the workers.

${table}

${overhead}
`;
  console.log(section);
  if (!argv["no-results"]) fs.appendFileSync(path.join(REPO_ROOT, "bench", "RESULTS.md"), section);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
