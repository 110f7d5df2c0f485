/**
 * PLAID codec k-means with the warm-started Lloyd rounds (src/plaid/refine.ts, the default) against
 * the two-level search in every round (`warmStart: false`), side by side in one process on the same
 * synthetic clustered vectors: the two alternate within each repetition, the first one swapping every
 * repetition, so drift on a shared machine hits both. Quality: the mean inner product of 20,000 of the
 * training vectors with their exactly nearest trained (unit) centroid, the quantity the codec's
 * residuals pay for (higher is better). Prints a markdown table.
 *
 *   npx tsc -p . && node dist/bench/kmeans-speed.js [--n 1048576] [--k 32768] [--iterations 4] [--reps 2]
 *
 * --n: training vectors (dim 128, unit norm, around 4,096 random topics, noise 0.5 per dimension
 * before normalising: the generator of bench/plaid-synthetic.ts); --k: centroids, one or more
 * (comma-separated; from 16,384 on the assignment is two-level and the warm start applies);
 * --iterations: Lloyd rounds; --reps: repetitions of the pair.
 * Cost on a 2-core machine at the defaults: about 3 minutes per repetition.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { assignExact } from "../src/plaid/assign.js";
import { kmeans } from "../src/plaid/kmeans.js";
import { Rng } from "../src/util/rng.js";
import { stringFlag as flag } from "./tools/args.js";

const N = Number(flag("--n", "1048576"));
const KS = flag("--k", "32768").split(",").map(Number);
const ITERATIONS = Number(flag("--iterations", "4"));
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

type Impl = "two-level" | "warm";
const train: Record<Impl, (x: Float32Array, k: number) => Promise<Float32Array>> = {
  "two-level": (x, k) => kmeans(x, N, DIM, k, { iterations: ITERATIONS, warmStart: false }),
  warm: (x, k) => kmeans(x, N, DIM, k, { iterations: ITERATIONS }),
};

/** Mean of max_j x_i . c_j over the first `rows` vectors (exact assignment). */
async function meanBestScore(x: Float32Array, rows: number, c: Float32Array, k: number): Promise<number> {
  const { scores } = await assignExact(x.subarray(0, rows * DIM), rows, c, k, DIM, undefined);
  let s = 0;
  for (const v of scores) s += v;
  return s / rows;
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
  const probe = Math.min(N, 20_000);
  for (const k of KS) {
    const secs: Record<Impl, number[]> = { "two-level": [], warm: [] };
    const quality: Record<Impl, number[]> = { "two-level": [], warm: [] };
    for (let rep = 0; rep < REPS; rep++) {
      const order: Impl[] = rep % 2 === 0 ? ["two-level", "warm"] : ["warm", "two-level"];
      for (const impl of order) {
        const t0 = performance.now();
        const c = await train[impl](x, k);
        const s = (performance.now() - t0) / 1000;
        secs[impl].push(s);
        quality[impl].push(await meanBestScore(x, probe, c, k));
        console.error(`K ${k} rep ${rep + 1} ${impl}: ${s.toFixed(1)} s, mean best score ${quality[impl].at(-1)?.toFixed(5)}`);
      }
    }
    const [p, c] = [median(secs["two-level"]), median(secs.warm)];
    const fmt = (v: number[], d: number): string => v.map((e) => e.toFixed(d)).join(", ");
    rows.push(`| ${k.toLocaleString("en-US")} | ${fmt(secs["two-level"], 1)} | ${fmt(secs.warm, 1)} | ${(p / c).toFixed(2)} | ${fmt(quality["two-level"], 5)} | ${fmt(quality.warm, 5)} |`);
  }
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const cpu = os.cpus();
  console.log(`- Machine: ${cpu[0]?.model ?? "?"}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; commit ${commit}`);
  console.log(`- Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; load average ${load0.toFixed(1)} before, ${(os.loadavg()[0] ?? 0).toFixed(1)} after`);
  console.log(`- Command: \`node dist/bench/kmeans-speed.js ${process.argv.slice(2).join(" ")}\``.replace(/ `$/, "`"));
  console.log(`- ${N.toLocaleString("en-US")} vectors x ${DIM}, ${ITERATIONS} iterations, seed 123; the two alternate, ${REPS} repetitions; quality over ${probe.toLocaleString("en-US")} training vectors`);
  console.log("");
  console.log("| K | two-level every round, s | warm-started, s | speed-up (medians) | mean best score, two-level | mean best score, warm |");
  console.log("| ---: | --- | --- | ---: | --- | --- |");
  for (const r of rows) console.log(r);
}

await main();
