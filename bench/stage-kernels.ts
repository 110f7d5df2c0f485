/**
 * PLAID's WebAssembly search kernels against the JavaScript loops they replace (their references),
 * side by side in one process, at the shapes of a 1M-document search:
 * - decompression of 256 documents x 64 vectors (stage 4): `WasmDecompressor` vs the codec's
 *   `decompress`;
 * - per-document maxima of their [16,384, nq] similarities (stage 4): `maxSimByRowsWasm` vs
 *   `maxSimByRows`;
 * - stage 3 over 1,024 documents' codes: `approximateScoresWasm` vs `approximateScores`;
 * and the index build's residual packing of 65,536 vectors: `WasmBinarizer` vs the codec's
 * `binarizeJs`.
 *
 *   npx tsc -p . && node dist/bench/stage-kernels.js [--k 65536] [--dim 128] [--nq 32] [--reps 40]
 *
 * Data: random unit centroids and random codes / residual bytes / similarities (the kernels' cost
 * does not depend on the values), seeded. Each repetition runs both sides, alternating which goes
 * first, on the calling thread; before any timing one untimed pass checks that they agree
 * (maxima, stage 3 and the packed bytes bit for bit, decompression within 1e-6 per
 * component; exit 1 otherwise).
 * Reported: medians of the milliseconds and of the per-repetition ratio reference / kernel (paired).
 */
import os from "node:os";
import { ResidualCodec } from "../src/plaid/codec.js";
import { makeChunk } from "../src/plaid/chunk.js";
import { WasmDecompressor } from "../src/plaid/decompress-wasm.js";
import { maxSimByRows, maxSimByRowsWasm } from "../src/plaid/residual-maxsim.js";
import { approximateScores, approximateScoresWasm, type SearchView } from "../src/plaid/stages.js";
import { WasmBinarizer } from "../src/plaid/binarize-wasm.js";
import { Rng } from "../src/util/rng.js";
import { percentile } from "./tools/bench-stats.js";
import { numberFlag as flag } from "./tools/args.js";

const K = flag("--k", 65536);
const DIM = flag("--dim", 128);
const NQ = flag("--nq", 32);
const REPS = flag("--reps", 40);
/** Stage 4 at 1M documents: ndocs 1,024 / 4 documents of 64 vectors. */
const STAGE4_ROWS = 256 * 64;
/** Stage 3 at 1M documents: ndocs 1,024 documents of 48..80 codes, drawn from a chunk of 20,000. */
const STAGE3_DOCS = 1024;
const CHUNK_DOCS = 20_000;

interface Row {
  name: string;
  referenceMs: number;
  kernelMs: number;
  ratio: number;
}

function fail(message: string): never {
  console.error(`stage-kernels: ${message}`);
  process.exit(1);
}

/** Paired timing of two synchronous functions over REPS repetitions, alternating the order. */
function paired(name: string, reference: () => unknown, kernel: () => unknown): Row {
  const ref: number[] = [];
  const ker: number[] = [];
  const ratios: number[] = [];
  const time = (f: () => unknown): number => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  for (let r = 0; r < REPS; r++) {
    let refMs: number;
    let kerMs: number;
    if (r % 2 === 0) {
      refMs = time(reference);
      kerMs = time(kernel);
    } else {
      kerMs = time(kernel);
      refMs = time(reference);
    }
    ref.push(refMs);
    ker.push(kerMs);
    ratios.push(refMs / kerMs);
  }
  return { name, referenceMs: percentile(ref, 50), kernelMs: percentile(ker, 50), ratio: percentile(ratios, 50) };
}

async function decompression(rng: Rng): Promise<Row> {
  const centroids = rng.normalArray(K * DIM, 1);
  const held = rng.normalArray(4096 * DIM, 1);
  const codec = await ResidualCodec.train(centroids, K, DIM, held, 4096, { nbits: 2 });
  const codes = Int32Array.from({ length: STAGE4_ROWS }, () => rng.int(K));
  const residuals = Uint8Array.from({ length: STAGE4_ROWS * codec.bytesPerVector }, () => rng.int(256));
  const kernel = WasmDecompressor.create(codec) ?? fail("WebAssembly SIMD is unavailable");
  const got = kernel.decompress(codes, residuals) ?? fail("the kernel's memory cannot grow");
  const want = codec.decompress(codes, residuals);
  for (let i = 0; i < want.length; i++) if (Math.abs((got[i] as number) - (want[i] as number)) > 1e-6) fail(`decompression differs at ${i}`);
  return paired(`decompression, ${STAGE4_ROWS} vectors (K ${K}, dim ${DIM}, nbits 2)`, () => codec.decompress(codes, residuals), () => kernel.decompress(codes, residuals));
}

function maxima(rng: Rng): Row {
  const sims = rng.normalArray(STAGE4_ROWS * NQ, 1);
  const doclens = new Array<number>(STAGE4_ROWS / 64).fill(64);
  const a = maxSimByRows(sims, NQ, doclens);
  const b = maxSimByRowsWasm(sims, NQ, doclens) ?? fail("WebAssembly SIMD is unavailable");
  if (!a.every((x, i) => Object.is(x, b[i]))) fail("per-document maxima differ");
  return paired(`per-document maxima, [${STAGE4_ROWS}, ${NQ}] similarities`, () => maxSimByRows(sims, NQ, doclens), () => maxSimByRowsWasm(sims, NQ, doclens));
}

function stage3(rng: Rng): Row {
  const doclens = Uint32Array.from({ length: CHUNK_DOCS }, () => 48 + rng.int(33));
  const total = doclens.reduce((s, n) => s + n, 0);
  const codes = Int32Array.from({ length: total }, () => rng.int(K));
  const chunk = makeChunk(Uint32Array.from({ length: CHUNK_DOCS }, (_, i) => i), doclens, codes, new Uint8Array(total * ((DIM * 2) / 8)), K);
  // Stage 3 reads only the codec's centroid count and the chunks.
  const view = { codec: { numCentroids: K }, chunks: [chunk], allowed: null, deleted: new Uint8Array(CHUNK_DOCS) } as unknown as SearchView;
  const scores = rng.normalArray(K * NQ, 1);
  const cands = Array.from({ length: STAGE3_DOCS }, (_, i) => (i * 7919) % CHUNK_DOCS);
  const a = approximateScores(view, cands, scores, NQ, null);
  const b = approximateScoresWasm(view, cands, scores, NQ) ?? fail("WebAssembly SIMD is unavailable");
  if (!a.every((x, i) => Object.is(x, b[i]))) fail("stage 3 scores differ");
  return paired(`stage 3, ${STAGE3_DOCS} documents of 48-80 codes (K ${K}, nq ${NQ})`, () => approximateScores(view, cands, scores, NQ, null), () => approximateScoresWasm(view, cands, scores, NQ));
}

async function packing(rng: Rng): Promise<Row> {
  const rows = 65_536;
  const centroids = rng.normalArray(K * DIM, 1);
  const held = rng.normalArray(4096 * DIM, 1);
  const codec = await ResidualCodec.train(centroids, K, DIM, held, 4096, { nbits: 2 });
  const x = rng.normalArray(rows * DIM, 1);
  const codes = Int32Array.from({ length: rows }, () => rng.int(K));
  const kernel = WasmBinarizer.create(codec) ?? fail("WebAssembly SIMD is unavailable");
  const got = new Uint8Array(rows * codec.bytesPerVector);
  const pack = (): boolean => kernel.binarizeInto(x, codes, got, 0) || fail("the kernel's memory cannot grow");
  pack();
  const want = codec.binarizeJs(x, codes);
  if (!want.every((v, i) => v === got[i])) fail("packed residuals differ");
  return paired(`index build: residual packing, ${rows} vectors (K ${K}, dim ${DIM}, nbits 2)`, () => codec.binarizeJs(x, codes), pack);
}

async function main(): Promise<void> {
  const started = new Date();
  const rng = new Rng(20_261_203);
  const rows = [await decompression(rng), maxima(rng), stage3(rng), await packing(rng)];
  const cpus = os.cpus();
  console.log(
    [
      `### PLAID kernels vs their JavaScript references (bench/stage-kernels.ts)`,
      ``,
      `- Command: \`node dist/bench/stage-kernels.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}\``,
      `- Date: ${started.toISOString()}`,
      `- Machine: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores, Node ${process.version}; calling thread`,
      `- ${REPS} repetitions alternating the order; medians; results checked equal before timing`,
      ``,
      `| step | JavaScript ms | WebAssembly ms | speed-up (paired median) |`,
      `|---|---:|---:|---:|`,
      ...rows.map((r) => `| ${r.name} | ${r.referenceMs.toFixed(2)} | ${r.kernelMs.toFixed(2)} | ${r.ratio.toFixed(2)}x |`),
    ].join("\n"),
  );
}

await main();
