/**
 * Token pooling speed: milliseconds per document of `poolTokens` (src/plaid/pooling.ts) against the
 * slow reference it replaced (test/helpers/pooling-reference.ts), side by side in one process.
 *
 *   npx tsc -p . && node dist/bench/pooling-speed.js [--docs 8] [--reps 5] [--dim 128]
 *
 * Documents: n rows (n = 100, 180, 300, 512, the [D] row included and protected, as PyLate pools
 * them), unit vectors drawn around n / 6 random topic centres (tokens of one text are correlated, as
 * encoder outputs are), seeded. Pool factors 2 and 3. Each repetition runs every document through
 * both implementations, alternating which goes first, on the calling thread; before any timing, one
 * untimed pass over every setting warms both up (JIT, the WebAssembly kernel's tier-up) and checks
 * that they agree: same labels, same pooled vectors bit for bit (exit 1 otherwise). Reported: median over
 * repetitions of the mean milliseconds per document, and the median of the per-repetition ratio
 * reference / new (paired, the reading to trust on a busy machine). Runs in well under a minute.
 */
import os from "node:os";
import { poolTokens } from "../src/plaid/pooling.js";
import { Rng } from "../src/util/rng.js";
import { poolTokensReference } from "../test/helpers/pooling-reference.js";
import { numberFlag as flag } from "./tools/args.js";

const DOCS = flag("--docs", 8);
const REPS = flag("--reps", 5);
const DIM = flag("--dim", 128);
const LENGTHS = [100, 180, 300, 512];
const POOL_FACTORS = [2, 3];

/** One document: [n, dim] row-major unit rows around n / 6 topic centres. */
function document(rng: Rng, n: number, dim: number): Float32Array {
  const centres = Array.from({ length: Math.max(1, Math.round(n / 6)) }, () => rng.normalArray(dim, 1));
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[rng.int(centres.length)] as Float32Array;
    let norm = 0;
    for (let t = 0; t < dim; t++) {
      const v = (c[t] as number) + 0.5 * rng.normal();
      x[i * dim + t] = v;
      norm += v * v;
    }
    for (let t = 0; t < dim; t++) x[i * dim + t] = (x[i * dim + t] as number) / Math.sqrt(norm);
  }
  return x;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

type Pool = typeof poolTokens;

/** Wall milliseconds of pooling every document once. */
function pass(pool: Pool, docs: Float32Array[], n: number, poolFactor: number): number {
  const t0 = performance.now();
  for (const x of docs) pool(x, n, DIM, { poolFactor });
  return performance.now() - t0;
}

function checkSame(docs: Float32Array[], n: number, poolFactor: number): void {
  for (const [d, x] of docs.entries()) {
    const a = poolTokens(x, n, DIM, { poolFactor });
    const b = poolTokensReference(x, n, DIM, { poolFactor });
    const same = a.count === b.count && a.labels.every((l, i) => l === b.labels[i]) && a.vectors.length === b.vectors.length && a.vectors.every((v, i) => Object.is(v, b.vectors[i]));
    if (!same) {
      console.error(`pooling-speed: new and reference results differ (n ${n}, pool factor ${poolFactor}, document ${d})`);
      process.exit(1);
    }
  }
}

interface Row {
  n: number;
  poolFactor: number;
  oldMs: number;
  newMs: number;
  ratio: number;
}

function measure(n: number, poolFactor: number, docs: Float32Array[]): Row {
  const oldMs: number[] = [];
  const newMs: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < REPS; r++) {
    let o: number;
    let w: number;
    if (r % 2 === 0) {
      o = pass(poolTokensReference, docs, n, poolFactor);
      w = pass(poolTokens, docs, n, poolFactor);
    } else {
      w = pass(poolTokens, docs, n, poolFactor);
      o = pass(poolTokensReference, docs, n, poolFactor);
    }
    oldMs.push(o / docs.length);
    newMs.push(w / docs.length);
    ratios.push(o / w);
  }
  return { n, poolFactor, oldMs: median(oldMs), newMs: median(newMs), ratio: median(ratios) };
}

function main(): void {
  const started = new Date();
  const rng = new Rng(20_260_101);
  const sets = LENGTHS.map((n) => ({ n, docs: Array.from({ length: DOCS }, () => document(rng, n, DIM)) }));
  // Warm-up of both over every setting before any timing (the first few dozen calls run unoptimised
  // JavaScript and the WebAssembly baseline tier), and the identical-results check.
  for (const { n, docs } of sets) for (const poolFactor of POOL_FACTORS) checkSame(docs, n, poolFactor);
  const rows: Row[] = [];
  for (const { n, docs } of sets) for (const poolFactor of POOL_FACTORS) rows.push(measure(n, poolFactor, docs));
  const cpus = os.cpus();
  const lines = [
    `### Token pooling speed (bench/pooling-speed.ts)`,
    ``,
    `- Command: \`node dist/bench/pooling-speed.js${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(" ")}` : ""}\``,
    `- Date: ${started.toISOString()}`,
    `- Machine: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores, Node ${process.version}; single thread`,
    `- ${DOCS} documents per length, dim ${DIM}, 1 protected row, ${REPS} repetitions alternating old/new; medians; identical results checked`,
    ``,
    `| tokens n | pool factor | reference ms/doc | new ms/doc | speed-up (paired median) |`,
    `|---:|---:|---:|---:|---:|`,
    ...rows.map((r) => `| ${r.n} | ${r.poolFactor} | ${r.oldMs.toFixed(2)} | ${r.newMs.toFixed(2)} | ${r.ratio.toFixed(2)}x |`),
  ];
  console.log(lines.join("\n"));
}

main();
