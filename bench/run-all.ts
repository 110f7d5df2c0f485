/**
 * `npm run bench`: every benchmark at a size that fits a 2-core machine in well under an hour, then
 * the charts. Each benchmark appends its own dated section (machine, commit, command, figures,
 * ratios measured in the same run) to bench/RESULTS.md; this script adds the charts
 * (bench/charts/*.svg) from their JSON outputs. Benchmarks that need ../shared skip with a message
 * when it is absent.
 *
 *   npm run bench                 # all
 *   npm run bench -- --only eval  # one of: encode, encode-batch, bm25, plaid, eval, plaid-collections
 *   npm run bench -- --charts-only # redraw the charts from the last outputs
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { lineChart, type Series } from "./tools/svg-chart.js";
import { REPO_ROOT } from "./tools/paths.js";

const ROOT = REPO_ROOT;
const DIST = path.join(ROOT, "dist", "bench");
const CHARTS = path.join(ROOT, "bench", "charts");

const STEPS: Record<string, string[]> = {
  encode: ["encode-throughput.js", "--docs", "64", "--reps", "3"],
  "encode-batch": ["encode-batch-sweep.js", "--docs", "32"],
  bm25: ["bm25-scifact.js"],
  plaid: [
    "plaid-synthetic.js",
    "--docs",
    "20000",
    "--topics",
    "1024",
    "--centroids",
    "4096",
    "--kmeans-points",
    "64",
    // LanceDB is optional (installed on demand, see bench/plaid-README.md).
    ...(fs.existsSync(path.join(REPO_ROOT, "node_modules", "@lancedb", "lancedb")) ? ["--lancedb"] : []),
  ],
  eval: ["eval-collections.js"],
  "plaid-collections": ["plaid-collections.js"],
};

function run(name: string, args: string[]): void {
  console.log(`\n=== ${name}: node ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [path.join(DIST, args[0] as string), ...args.slice(1)], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) console.log(`${name} exited with ${String(r.status)}`);
}

interface PlaidRow {
  system: string;
  setting: string;
  p50: number;
  recall: number;
}

function readJson<T>(file: string): T | null {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as T) : null;
}

/** Latency vs recall of each system in the latest PLAID benchmark output. */
function plaidChart(): void {
  const dirs = fs.existsSync(path.join(ROOT, "bench", "out")) ? fs.readdirSync(path.join(ROOT, "bench", "out")).filter((d) => d.startsWith("plaid-")) : [];
  for (const d of dirs) {
    const res = readJson<{ rows: PlaidRow[]; build: { params: { docs: number } } }>(path.join(ROOT, "bench", "out", d, "results.json"));
    if (!res) continue;
    const bySystem = new Map<string, [number, number][]>();
    for (const r of res.rows) bySystem.set(r.system, [...(bySystem.get(r.system) ?? []), [r.p50, r.recall]]);
    const series: Series[] = [...bySystem].map(([name, points]) => ({ name, points: points.sort((a, b) => a[0] - b[0]) }));
    const svg = lineChart({ title: `Search: p50 latency vs recall@10 (${res.build.params.docs} docs)`, xLabel: "p50 latency per query (ms, log scale)", yLabel: "recall@10 vs exact MaxSim", series, logX: true, lines: false });
    fs.writeFileSync(path.join(CHARTS, `${d}-latency-recall.svg`), svg);
    console.log(`chart: bench/charts/${d}-latency-recall.svg`);
  }
}

/** Encode throughput per configuration (tokens/s) from the latest encode benchmark. */
function encodeChart(): void {
  const res = readJson<{ configurations: { system: string; label: string; tokensPerSecond?: number; medianSeconds: number }[]; tokens: number }>(
    path.join(ROOT, "bench", "out", "encode-throughput.json"),
  );
  if (!res) return;
  const series: Series[] = res.configurations.map((c, i) => ({
    name: `${c.system} #${i}`,
    points: [[i + 1, c.tokensPerSecond ?? res.tokens / c.medianSeconds]],
  }));
  fs.writeFileSync(path.join(CHARTS, "encode-throughput.svg"), lineChart({ title: "Encode throughput (tokens/s) per configuration", xLabel: "configuration # (see RESULTS.md)", yLabel: "tokens/s", series }));
  console.log("chart: bench/charts/encode-throughput.svg");
}

const only = process.argv.indexOf("--only");
const wanted = process.argv.includes("--charts-only") ? [] : only > 0 ? [process.argv[only + 1] ?? ""] : Object.keys(STEPS);
for (const name of wanted) {
  const step = STEPS[name];
  if (!step) throw new Error(`unknown benchmark ${name}; one of ${Object.keys(STEPS).join(", ")}`);
  run(name, step);
}
fs.mkdirSync(CHARTS, { recursive: true });
plaidChart();
encodeChart();
