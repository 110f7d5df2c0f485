/**
 * PLAID codec k-means, the current implementation (src/plaid/kmeans.ts) against the previous one
 * (test/reference/plaid/two-level-v1.ts: the two-level fine stage in 65,536-row blocks), side by side in
 * one process on the same synthetic clustered vectors: the two alternate within each repetition, the
 * first one swapping every repetition, so drift on a shared machine hits both. Every run must train
 * bit-identical centroids (checked; the script exits 1 otherwise). Prints a markdown table.
 *
 *   npx tsc -p . && node dist/bench/kmeans-speed.js [--n 196608] [--k 32768] [--iterations 2] [--reps 2]
 *
 * --n: training vectors (dim 128, unit norm, around 4,096 random topics, noise 0.5 per dimension
 * before normalising: the generator of bench/plaid-synthetic.ts); --k: centroids, one or more
 * (comma-separated; from 16,384 on the assignment is two-level, below it exact and unchanged);
 * --iterations: Lloyd rounds; --reps: repetitions of the old/new pair.
 * Cost on a 2-core machine: about 10-15 s per iteration at the defaults, so ~2-3 minutes.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { kmeans } from "../src/plaid/kmeans.js";
import { Rng } from "../src/util/rng.js";
import { kmeansV1 } from "../test/reference/plaid/two-level-v1.js";

const flag = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const N = Number(flag("--n", "196608"));
const KS = flag("--k", "32768").split(",").map(Number);
const ITERATIONS = Number(flag("--iterations", "2"));
const REPS = Number(flag("--reps", "2"));
const DIM = 128;

/** n unit vectors: [n, dim] row-major, each a random one of 4,096 topics plus N(0, 0.5²) noise. */
function clustered(n: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const topics = rng.normalArray(4096 * dim, 1);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = rng.int(4096);
    let s = 0;
    for (let t = 0; t < dim; t++) {
      const v = (topics[c * dim + t] as number) + 0.5 * rng.normal();
      x[i * dim + t] = v;
      s += v * v;
    }
    const inv = 1 / Math.sqrt(s);
    for (let t = 0; t < dim; t++) x[i * dim + t] = (x[i * dim + t] as number) * inv;
  }
  return x;
}

type Impl = "previous" | "current";
const train: Record<Impl, (x: Float32Array, k: number) => Promise<Float32Array>> = {
  previous: (x, k) => kmeansV1(x, N, DIM, k, { iterations: ITERATIONS }),
  current: (x, k) => kmeans(x, N, DIM, k, { iterations: ITERATIONS }),
};

function bitEqual(a: Float32Array, b: Float32Array): boolean {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.length === ub.length && ua.every((v, i) => v === ub[i]);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const load0 = os.loadavg()[0] ?? 0;
  const x = clustered(N, DIM, 7);
  const rows: string[] = [];
  let identical = true;
  for (const k of KS) {
    const secs: Record<Impl, number[]> = { previous: [], current: [] };
    let reference: Float32Array | null = null;
    for (let rep = 0; rep < REPS; rep++) {
      const order: Impl[] = rep % 2 === 0 ? ["previous", "current"] : ["current", "previous"];
      for (const impl of order) {
        const t0 = performance.now();
        const c = await train[impl](x, k);
        const s = (performance.now() - t0) / 1000;
        secs[impl].push(s);
        reference ??= c;
        const same = bitEqual(c, reference);
        identical &&= same;
        console.error(`K ${k} rep ${rep + 1} ${impl}: ${s.toFixed(1)} s${same ? "" : " (centroids DIFFER)"}`);
      }
    }
    const [p, c] = [median(secs.previous), median(secs.current)];
    rows.push(`| ${k.toLocaleString("en-US")} | ${k >= 16_384 ? "two-level" : "exact"} | ${secs.previous.map((v) => v.toFixed(1)).join(", ")} | ${secs.current.map((v) => v.toFixed(1)).join(", ")} | ${(c / p).toFixed(2)} | ${identical ? "yes" : "NO"} |`);
  }
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const cpu = os.cpus();
  console.log(`- Machine: ${cpu[0]?.model ?? "?"}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; commit ${commit}`);
  console.log(`- Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; load average ${load0.toFixed(1)} before, ${(os.loadavg()[0] ?? 0).toFixed(1)} after`);
  console.log(`- Command: \`node dist/bench/kmeans-speed.js ${process.argv.slice(2).join(" ")}\``.replace(/ `$/, "`"));
  console.log(`- ${N.toLocaleString("en-US")} vectors x ${DIM}, ${ITERATIONS} iterations, seed 123; previous and current alternate, ${REPS} repetitions`);
  console.log("");
  console.log("| K | assignment | previous s | current s | current / previous (medians) | centroids bit-identical |");
  console.log("| ---: | --- | --- | --- | ---: | --- |");
  for (const r of rows) console.log(r);
  if (!identical) process.exitCode = 1;
}

await main();
