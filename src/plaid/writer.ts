/**
 * Every write to an index: build, add, delete, compact. Each one writes new immutable files, then
 * commits by replacing the manifest (manifest.ts); metadata rows go to SQLite before the commit and
 * rows beyond the manifest's `numDocs` are ignored by readers, so a crash at any point leaves the
 * previous state loadable. One writer at a time (a lock file).
 *
 * Memory stays bounded on large corpora: the codec is trained on a sample (PLAID's sample size), then
 * documents are compressed batch by batch and written in chunks; no step holds every float vector.
 */
import fs from "node:fs";
import path from "node:path";
import type { Analyzer } from "../bm25/analyzer.js";
import { Bm25Index } from "../bm25/bm25-index.js";
import { loadBm25, saveBm25 } from "../bm25/store.js";
import { ColtsError } from "../errors.js";
import { Rng } from "../util/rng.js";
import type { Nbits } from "./bitpack.js";
import { makeChunk, writeChunk, type Chunk } from "./chunk.js";
import { ResidualCodec, type CodecKernelOptions } from "./codec.js";
import { readCodec, readTombstones, writeCodec, writeTombstones } from "./files.js";
import { kmeans, plaidNumCentroids, plaidSampleSize } from "./kmeans.js";
import { DEFAULT_SEED } from "./lloyd.js";
import { collectGarbage, INDEX_FORMAT, INDEX_FORMAT_VERSION, writeManifest, type ChunkEntry, type Manifest } from "./manifest.js";
import { MetadataStore } from "../metadata/sqlite-store.js";
import { KeptSample } from "./kept-sample.js";
import { withWriteLock } from "./lock.js";
import { poolDoc, selected, type EmbeddedDoc, type EmbeddingSource } from "./source.js";
import { checkCodec, loadIndexFiles, readManifest } from "./validate.js";

/** Default of BuildOptions.sampleMemoryBytes: 1 GiB. */
export const DEFAULT_SAMPLE_MEMORY_BYTES = 2 ** 30;
/** Kept documents handed to the chunk writer at a time when no source batch carries them. */
const KEPT_BATCH = 1000;

/** Documents per chunk file when BuildOptions.chunkDocs is not given (build and add). */
export const DEFAULT_CHUNK_DOCS = 25_000;

/** How `buildIndex` trains its codec and lays out the index; every field is optional. */
export interface BuildOptions {
  /** Residual bits per dimension: 1, 2 or 4. Default 2. More bits: closer to exact scores, bigger index. */
  nbits?: Nbits;
  /** Token pooling factor (PyLate semantics). Default 1 = none; 2 halves the vectors (~no quality loss). */
  poolFactor?: number;
  /** Seed of the sample, k-means and held-out split. Default DEFAULT_SEED (123). */
  seed?: number;
  /** k-means iterations. Default 4 (PLAID's). */
  kmeansIterations?: number;
  /**
   * Number of centroids. Default PLAID's 2^floor(log2(16 sqrt(estimated vectors))). Fewer centroids
   * train faster (k-means cost grows with centroids x sample vectors) and make IVF lists longer.
   */
  numCentroids?: number;
  /**
   * k-means trains on at most this many sample vectors per centroid (faiss' max_points_per_centroid).
   * Default 256. Lower values train faster on large collections at some cost in centroid quality.
   */
  kmeansMaxPointsPerCentroid?: number;
  /**
   * Nearest-centroid assignment in k-means and compression: "exact" scores every centroid (PLAID);
   * "two-level" scores groups of centroids first (two-level.ts: ~99% identical codes at
   * probe 16, >10x fewer multiply-adds at k = 2^15); "auto" (default) is two-level from 16,384
   * centroids on, the sizes where exact assignment takes hours on a few CPU cores.
   */
  assignment?: "auto" | "exact" | "two-level";
  /** Documents per chunk file. Default DEFAULT_CHUNK_DOCS (25,000). Smaller chunks: cheaper compaction; more files. */
  chunkDocs?: number;
  /** Model recorded in the manifest (queries must be encoded with it). */
  model?: string | null;
  /** Also build the BM25 keyword index over the documents' texts (for bm25, bm25+rerank, hybrid). Default true. */
  bm25?: boolean;
  /**
   * Analyser of the BM25 index (persisted with it; add/delete reuse it). Default englishAnalyzer().
   * Japanese: japaneseAnalyzer() (MeCab) or cjkAnalyzer() (bigrams, no dictionary).
   */
  bm25Analyzer?: Analyzer;
  /** Replace an existing index in the folder. Default false (refuse). */
  overwrite?: boolean;
  /**
   * Most bytes of the codec sample's vectors kept in memory between codec training and compression,
   * so that the sampled documents are not encoded twice. A larger sample is written to a temporary
   * float32 file in the index folder instead (exact, removed when the build ends). Default
   * DEFAULT_SAMPLE_MEMORY_BYTES (1 GiB); 0 always uses the file. Training itself holds the sample in
   * memory either way (k-means needs it); this bounds what stays held while the rest is compressed.
   */
  sampleMemoryBytes?: number;
  /**
   * Progress of each phase, reported per batch: "sample" (documents of the codec sample read and
   * encoded), "train" (k-means rounds, then the residual calibration), "index" (documents compressed,
   * the kept sample included). Each phase ends with done === total.
   */
  onProgress?: (e: { phase: "sample" | "train" | "index"; done: number; total: number }) => void;
}

const now = (): string => new Date().toISOString();

/** Writes the keyword index of a generation; null when there is none or it holds no document. */
async function saveKeywordIndex(dir: string, bm25: Bm25Index | null, generation: number): Promise<string | null> {
  if (!bm25 || bm25.size === 0) return null;
  const file = `bm25-g${generation}.bin`;
  await saveBm25(dir, bm25, file);
  return file;
}
const METADATA_FILE = "metadata.sqlite";

/** Positions of the k-means sample: PLAID's sample size, drawn without replacement with a seeded Rng. */
export function chooseSample(n: number, seed: number): Set<number> {
  const size = plaidSampleSize(n);
  const rng = new Rng(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + rng.int(n - i);
    [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
  }
  return new Set(perm.slice(0, size));
}

/** Where a build keeps its codec sample for the index pass (see kept-sample.ts). */
interface KeepSample {
  /** Most bytes of sampled vectors held in memory; more go to `spillFile`. */
  budgetBytes: number;
  spillFile: string;
}

/** A trained codec, and the sample it was trained on when the caller asked to keep it. */
interface TrainedCodec {
  codec: ResidualCodec;
  kept: KeptSample | null;
}

/** Reads the sample (pooled), checking the source yields exactly the sampled documents. */
async function readSample(source: EmbeddingSource, sample: ReadonlySet<number>, dim: number, opts: BuildOptions): Promise<{ heads: Omit<EmbeddedDoc, "vectors">[]; all: Float32Array }> {
  const parts: Float32Array[] = [];
  const heads: Omit<EmbeddedDoc, "vectors">[] = [];
  let rows = 0;
  for await (const batch of source.batches(sample)) {
    for (const d of batch) {
      const { vectors, ...head } = poolDoc(checkDoc(d, dim), dim, opts.poolFactor ?? 1);
      parts.push(vectors.subarray(0, head.n * dim));
      heads.push(head);
      rows += head.n;
    }
    opts.onProgress?.({ phase: "sample", done: heads.length, total: sample.size });
  }
  if (heads.length !== sample.size) throw new ColtsError("INPUT_INVALID", `the source yielded ${heads.length} documents for a sample of ${sample.size}`);
  if (rows === 0) throw new ColtsError("INPUT_INVALID", "the sampled documents have no vectors");
  const all = new Float32Array(rows * dim);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return { heads, all }; // the per-document arrays are garbage from here: one copy of the sample is held
}

/**
 * Trains the codec on PLAID's sample of the source. With `keep`, the sampled documents are returned
 * for the index pass (in their original row order), so the build need not read or encode them again.
 */
async function trainCodec(source: EmbeddingSource, dim: number, opts: BuildOptions, keep: KeepSample): Promise<TrainedCodec & { kept: KeptSample }>;
async function trainCodec(source: EmbeddingSource, dim: number, opts: BuildOptions): Promise<TrainedCodec>;
async function trainCodec(source: EmbeddingSource, dim: number, opts: BuildOptions, keep: KeepSample | null = null): Promise<TrainedCodec> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const sample = chooseSample(source.count, seed);
  const { heads, all } = await readSample(source, sample, dim, opts);
  const rows = all.length / dim;
  // Hold out ~5% of the sampled vectors (at most 50k) to calibrate the residual buckets, as PLAID does:
  // the rows are shuffled in place (a seeded Fisher-Yates), the first nHeld calibrate, the rest train.
  // The swaps are recorded so that the original order can be restored for the kept sample.
  const swaps = shuffleRows(all, rows, dim, new Rng(seed + 1));
  const nHeld = rows > 20 ? Math.min(50_000, Math.max(1, Math.floor(rows * 0.05))) : 0;
  const trainRows = rows - nHeld;
  const train = all.subarray(nHeld * dim);
  // Tiny samples (<= 20 vectors) calibrate on every vector.
  const heldRows = nHeld > 0 ? nHeld : rows;
  const held = all.subarray(0, heldRows * dim);
  const avgDoclen = rows / sample.size;
  const k = Math.max(1, Math.min(opts.numCentroids ?? plaidNumCentroids(avgDoclen * source.count), trainRows));
  const iterations = opts.kmeansIterations ?? 4;
  opts.onProgress?.({ phase: "train", done: 0, total: iterations + 1 });
  const centroids = await kmeans(train, trainRows, dim, k, {
    seed,
    iterations,
    onIteration: (done) => opts.onProgress?.({ phase: "train", done, total: iterations + 1 }),
    ...(opts.kmeansMaxPointsPerCentroid ? { maxPointsPerCentroid: opts.kmeansMaxPointsPerCentroid } : {}),
    ...(opts.assignment ? { assignment: opts.assignment } : {}),
  });
  const codec = await ResidualCodec.train(centroids, k, dim, held, heldRows, { nbits: opts.nbits ?? 2, ...(opts.assignment ? { assignment: opts.assignment } : {}) });
  opts.onProgress?.({ phase: "train", done: iterations + 1, total: iterations + 1 });
  if (!keep) return { codec, kept: null };
  unshuffleRows(all, dim, swaps);
  const positions = [...sample].sort((a, b) => a - b);
  try {
    return { codec, kept: new KeptSample(positions, heads, all, dim, keep.budgetBytes, keep.spillFile) };
  } catch (e) {
    await codec.releaseKernels();
    throw e;
  }
}

/**
 * Seeded Fisher-Yates shuffle of the rows of x: [rows, dim] in place. Returns the swap partner of each
 * row (swaps[i] for i = rows-1 down to 1), which `unshuffleRows` replays backwards.
 */
function shuffleRows(x: Float32Array, rows: number, dim: number, rng: Rng): Uint32Array {
  const swaps = new Uint32Array(rows);
  const tmp = new Float32Array(dim);
  for (let i = rows - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    swaps[i] = j;
    if (j !== i) swapRows(x, i, j, dim, tmp);
  }
  return swaps;
}

/** Undoes `shuffleRows`: x: [rows, dim] returns to its order before the shuffle. */
function unshuffleRows(x: Float32Array, dim: number, swaps: Uint32Array): void {
  const tmp = new Float32Array(dim);
  for (let i = 1; i < swaps.length; i++) {
    const j = swaps[i] as number;
    if (j !== i) swapRows(x, i, j, dim, tmp);
  }
}

/** Swaps rows i and j of x: [*, dim] row-major, through tmp: [dim]. */
function swapRows(x: Float32Array, i: number, j: number, dim: number, tmp: Float32Array): void {
  const a = i * dim;
  const b = j * dim;
  tmp.set(x.subarray(a, a + dim));
  x.copyWithin(a, b, b + dim);
  x.set(tmp, b);
}

function checkDoc(d: EmbeddedDoc, dim: number): EmbeddedDoc {
  if (typeof d.id !== "string" || d.id === "") throw new ColtsError("INPUT_INVALID", `document id must be a non-empty string, got ${JSON.stringify(d.id)}`);
  if (!Number.isInteger(d.n) || d.n < 0 || d.vectors.length < d.n * dim) {
    throw new ColtsError("INPUT_INVALID", `document ${d.id}: ${d.vectors.length} values do not hold ${d.n} vectors of dim ${dim}`);
  }
  return d;
}

/** Mean |x - centroid| over the values of compressed vectors (drift statistic). */
function meanAbsResidual(codec: ResidualCodec, x: Float32Array, codes: Int32Array): number {
  const dim = codec.dim;
  let s = 0;
  for (let i = 0; i < codes.length; i++) {
    const c = (codes[i] as number) * dim;
    for (let t = 0; t < dim; t++) s += Math.abs((x[i * dim + t] as number) - (codec.centroids[c + t] as number));
  }
  return codes.length > 0 ? s / (codes.length * dim) : 0;
}

/** Compresses documents batch by batch into chunk files, assigning ordinals from `firstOrdinal`. */
class ChunkWriter {
  readonly entries: ChunkEntry[] = [];
  private docs: EmbeddedDoc[] = [];
  private residualSum = 0;
  private residualCount = 0;

  constructor(
    private readonly dir: string,
    private readonly codec: ResidualCodec,
    private readonly generation: number,
    private nextOrdinal: number,
    private readonly chunkDocs: number,
    private readonly metadata: MetadataStore,
    /** Receives every document that has a text (the keyword index beside the vectors). */
    private readonly bm25: Bm25Index | null,
    /** Assignment settings for compression (BuildOptions.assignment). */
    private readonly kernel: CodecKernelOptions = {},
  ) {}

  get ordinal(): number {
    return this.nextOrdinal;
  }

  get avgResidual(): number | null {
    return this.residualCount > 0 ? this.residualSum / this.residualCount : null;
  }

  async push(batch: EmbeddedDoc[]): Promise<void> {
    this.docs.push(...batch);
    while (this.docs.length >= this.chunkDocs) await this.flush(this.docs.splice(0, this.chunkDocs));
  }

  /** Writes the last, partial chunk. The codec's kernels are its owner's to release. */
  async finish(): Promise<void> {
    if (this.docs.length > 0) await this.flush(this.docs.splice(0));
  }

  private async flush(docs: EmbeddedDoc[]): Promise<void> {
    const dim = this.codec.dim;
    const doclens = Uint32Array.from(docs, (d) => d.n);
    const total = docs.reduce((a, d) => a + d.n, 0);
    const x = new Float32Array(total * dim);
    let off = 0;
    for (const d of docs) {
      x.set(d.vectors.subarray(0, d.n * dim), off);
      off += d.n * dim;
    }
    const { codes, residuals } = await this.codec.compress(x, total, this.kernel);
    this.residualSum += meanAbsResidual(this.codec, x, codes) * total;
    this.residualCount += total;
    const ordinals = Uint32Array.from(docs, (_, i) => this.nextOrdinal + i);
    const chunk: Chunk = makeChunk(ordinals, doclens, codes, residuals, this.codec.numCentroids);
    const file = `chunk-g${this.generation}-${this.entries.length}.bin`;
    writeChunk(path.join(this.dir, file), chunk);
    this.metadata.insert(docs.map((d, i) => ({ ordinal: this.nextOrdinal + i, id: d.id, meta: d.metadata ?? null, text: d.text ?? null })));
    this.bm25?.add(docs.filter((d) => typeof d.text === "string").map((d) => ({ id: d.id, text: d.text as string })));
    this.nextOrdinal += docs.length;
    this.entries.push({ file, docs: docs.length, vectors: total });
  }
}

/**
 * The generation of the index being overwritten. A damaged manifest does not stop a rebuild: the
 * highest generation any file in the folder is named with is used, so no new file reuses a name.
 */
function previousGeneration(dir: string): number {
  try {
    return readManifest(dir).generation;
  } catch (e) {
    if (!(e instanceof ColtsError) || (e.code !== "INDEX_CORRUPT" && e.code !== "INDEX_VERSION")) throw e;
    return Math.max(0, ...fs.readdirSync(dir).map((n) => Number(/-g(\d+)/.exec(n)?.[1] ?? 0)));
  }
}

/** Builds a new index in `dir` from embedded documents. */
export async function buildIndex(dir: string, source: EmbeddingSource, dim: number, opts: BuildOptions = {}): Promise<Manifest> {
  fs.mkdirSync(dir, { recursive: true });
  return withWriteLock(dir, async () => {
    if (fs.existsSync(path.join(dir, "manifest.json")) && !opts.overwrite) {
      throw new ColtsError("INPUT_INVALID", `${dir} already holds an index; add documents with "colts index add" or rebuild with --overwrite`, { details: { dir } });
    }
    if (source.count < 1) throw new ColtsError("INPUT_INVALID", "cannot build an index from an empty corpus");
    const previous = fs.existsSync(path.join(dir, "manifest.json")) ? previousGeneration(dir) : null;
    const generation = (previous ?? 0) + 1;
    const spillFile = path.join(dir, `sample-g${generation}.f32`);
    const { codec, kept } = await trainCodec(source, dim, opts, { budgetBytes: opts.sampleMemoryBytes ?? DEFAULT_SAMPLE_MEMORY_BYTES, spillFile });
    try {
      return await writeBuild(dir, { source, dim, opts, codec, kept, generation, firstBuild: previous === null });
    } finally {
      kept.close();
      await codec.releaseKernels();
    }
  });
}

/** What `writeBuild` writes: a trained codec, its kept sample, the source for the other documents. */
interface BuildPlan {
  source: EmbeddingSource;
  dim: number;
  opts: BuildOptions;
  codec: ResidualCodec;
  kept: KeptSample;
  generation: number;
  /** No index was in the folder (a rebuild writes its metadata database under a generation name). */
  firstBuild: boolean;
}

/** Writes the codec, every document's chunk, metadata and keyword index, then the manifest. */
async function writeBuild(dir: string, plan: BuildPlan): Promise<Manifest> {
  const { source, dim, opts, codec, generation } = plan;
  const codecFile = `codec-g${generation}.bin`;
  writeCodec(path.join(dir, codecFile), codec);
  // A rebuild writes a fresh metadata database next to the old one; the manifest switch picks it.
  const metadataFile = plan.firstBuild ? METADATA_FILE : `metadata-g${generation}.sqlite`;
  const metadata = MetadataStore.open(path.join(dir, metadataFile));
  try {
    const bm25 = opts.bm25 === false ? null : new Bm25Index(opts.bm25Analyzer ? { analyzer: opts.bm25Analyzer } : {});
    const writer = new ChunkWriter(dir, codec, generation, 0, opts.chunkDocs ?? DEFAULT_CHUNK_DOCS, metadata, bm25, opts.assignment ? { assignment: opts.assignment } : {});
    const ids = new Set<string>();
    let done = 0;
    for await (const batch of withKeptSample(source, plan.kept, dim, opts.poolFactor ?? 1)) {
      for (const d of batch) {
        if (ids.has(d.id)) throw new ColtsError("INPUT_INVALID", `duplicate document id ${JSON.stringify(d.id)}`, { details: { id: d.id } });
        ids.add(d.id);
      }
      await writer.push(batch);
      done += batch.length;
      opts.onProgress?.({ phase: "index", done, total: source.count });
    }
    if (done !== source.count) throw new ColtsError("INPUT_INVALID", `the source yielded ${done} documents, not the ${source.count} it announced`);
    await writer.finish();
    const bm25File = await saveKeywordIndex(dir, bm25, generation);
    const m: Manifest = {
      format: INDEX_FORMAT,
      version: INDEX_FORMAT_VERSION,
      generation,
      createdAt: now(),
      updatedAt: now(),
      dim,
      nbits: codec.nbits,
      numCentroids: codec.numCentroids,
      poolFactor: opts.poolFactor ?? 1,
      model: opts.model ?? null,
      codecFile,
      chunks: writer.entries,
      tombstonesFile: null,
      numDocs: writer.ordinal,
      liveDocs: writer.ordinal,
      metadataFile,
      bm25File,
      drift: { trainedAvgResidual: codec.avgResidual, lastAddAvgResidual: null },
    };
    writeManifest(dir, m);
    collectGarbage(dir, m);
    return m;
  } finally {
    metadata.close();
  }
}

/**
 * Every document of the source in corpus order, pooled: the kept sample's documents at their
 * positions, the others read (encoded) from the source, which is asked to leave the sample out.
 */
async function* withKeptSample(source: EmbeddingSource, kept: KeptSample, dim: number, poolFactor: number): AsyncIterable<EmbeddedDoc[]> {
  let position = 0;
  const out: EmbeddedDoc[] = [];
  for await (const batch of source.batches(undefined, new Set(kept.positions))) {
    for (const d of batch) {
      while (kept.nextPosition === position) {
        out.push(kept.take());
        position++;
        // Batches stay small while a run of sampled documents is merged: bounded memory, steady progress.
        if (out.length >= KEPT_BATCH) yield out.splice(0);
      }
      if (kept.has(d.id)) {
        throw new ColtsError("INPUT_INVALID", `duplicate document id ${JSON.stringify(d.id)} (or a source that yields sampled documents again: it must honour \`except\`)`, { details: { id: d.id } });
      }
      out.push(poolDoc(checkDoc(d, dim), dim, poolFactor));
      position++;
    }
    if (out.length > 0) yield out.splice(0);
  }
  // The sampled documents after the source's last one (all of them when the sample is the corpus).
  while (kept.remaining > 0) {
    out.push(kept.take());
    if (out.length >= KEPT_BATCH || kept.remaining === 0) yield out.splice(0);
  }
}

/** Appends documents with the existing codec. Ids already live in the index are refused. */
export async function addToIndex(dir: string, source: EmbeddingSource, opts: Pick<BuildOptions, "chunkDocs" | "onProgress"> = {}): Promise<Manifest> {
  return withWriteLock(dir, async () => {
    const m = readManifest(dir);
    const codec = readCodec(dir, m);
    checkCodec(path.join(dir, m.codecFile), codec);
    const deleted = readTombstones(dir, m);
    const metadata = MetadataStore.open(path.join(dir, m.metadataFile));
    try {
      const generation = m.generation + 1;
      const bm25 = m.bm25File ? await loadBm25(dir, { fileName: m.bm25File }) : null;
      const writer = new ChunkWriter(dir, codec, generation, m.numDocs, opts.chunkDocs ?? DEFAULT_CHUNK_DOCS, metadata, bm25);
      const seen = new Set<string>();
      let done = 0; // documents handed to the writer (its ordinal moves only when a chunk is written)
      for await (const batch of source.batches()) {
        const existing = metadata.ordinalsForIds(batch.map((d) => d.id), m.numDocs);
        for (const d of batch) {
          const o = existing.get(d.id);
          // A corpus file is checked for repeats before encoding (with file:line); other sources land here.
          if (seen.has(d.id)) throw new ColtsError("INPUT_INVALID", `duplicate document id ${JSON.stringify(d.id)} in the input`, { details: { id: d.id } });
          if (o !== undefined && !deleted.has(o)) {
            throw new ColtsError("INPUT_INVALID", `document id ${JSON.stringify(d.id)} is already in the index (delete it first to replace it)`, { details: { id: d.id } });
          }
          seen.add(d.id);
        }
        await writer.push(batch.map((d) => poolDoc(checkDoc(d, m.dim), m.dim, m.poolFactor)));
        done += batch.length;
        opts.onProgress?.({ phase: "index", done, total: source.count });
      }
      await writer.finish();
      const added = writer.ordinal - m.numDocs;
      const next: Manifest = {
        ...m,
        version: INDEX_FORMAT_VERSION, // new chunks are written in the current format
        generation,
        updatedAt: now(),
        chunks: [...m.chunks, ...writer.entries],
        bm25File: (await saveKeywordIndex(dir, bm25, generation)) ?? m.bm25File ?? null,
        numDocs: writer.ordinal,
        liveDocs: m.liveDocs + added,
        drift: { ...m.drift, lastAddAvgResidual: writer.avgResidual ?? m.drift.lastAddAvgResidual },
      };
      writeManifest(dir, next);
      collectGarbage(dir, next);
      return next;
    } finally {
      metadata.close();
      await codec.releaseKernels();
    }
  });
}

/** Marks documents deleted (honoured by the next search). Returns which ids were found. */
export async function deleteFromIndex(dir: string, ids: readonly string[]): Promise<{ manifest: Manifest; deleted: string[]; missing: string[] }> {
  return withWriteLock(dir, async () => {
    const m = readManifest(dir);
    const tomb = readTombstones(dir, m);
    const metadata = MetadataStore.open(path.join(dir, m.metadataFile));
    try {
      const found = metadata.ordinalsForIds([...ids], m.numDocs);
      const deleted: string[] = [];
      const missing: string[] = [];
      for (const id of ids) {
        const o = found.get(id);
        if (o === undefined || tomb.has(o)) missing.push(id);
        else {
          tomb.add(o);
          deleted.push(id);
        }
      }
      if (deleted.length === 0) return { manifest: m, deleted, missing };
      const generation = m.generation + 1;
      const tombstonesFile = `tombstones-g${generation}.bin`;
      writeTombstones(path.join(dir, tombstonesFile), tomb);
      let bm25File = m.bm25File ?? null;
      if (bm25File) {
        const bm25 = await loadBm25(dir, { fileName: bm25File });
        bm25.delete(deleted.filter((id) => bm25.has(id)));
        bm25File = await saveKeywordIndex(dir, bm25, generation);
      }
      const next: Manifest = { ...m, generation, updatedAt: now(), tombstonesFile, bm25File, liveDocs: m.liveDocs - deleted.length };
      writeManifest(dir, next);
      collectGarbage(dir, next);
      return { manifest: next, deleted, missing };
    } finally {
      metadata.close();
    }
  });
}

/** How `compactIndex` rewrites an index: with or without retraining the codec. */
export interface CompactOptions {
  /**
   * Retrain the centroids and residual buckets on the live documents (sampled as at build time) and
   * re-compress everything. Default false: only drop deleted documents from the chunk files.
   */
  recluster?: boolean;
  /** Seed of the recluster's sample, k-means and held-out split. Default DEFAULT_SEED (123). */
  seed?: number;
}

/** Keeps the live documents of a chunk. */
function liveDocs(chunk: Chunk, deleted: ReadonlySet<number>): number[] {
  const keep: number[] = [];
  chunk.ordinals.forEach((o, i) => !deleted.has(o) && keep.push(i));
  return keep;
}

/** Decompressed vectors of the given local documents of a chunk: [sum doclens, dim]. */
function decompressDocs(chunk: Chunk, locals: number[], codec: ResidualCodec): Float32Array {
  const bpv = codec.bytesPerVector;
  const parts = locals.map((l) => {
    const a = chunk.offsets[l] as number;
    const b = chunk.offsets[l + 1] as number;
    return codec.decompress(chunk.codes.subarray(a, b), chunk.residuals.subarray(a * bpv, b * bpv));
  });
  const vectors = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    vectors.set(p, off);
    off += p.length;
  }
  return vectors;
}

/** Rewrites chunks without deleted documents; with `recluster`, with a codec retrained on live data. */
export async function compactIndex(dir: string, opts: CompactOptions = {}): Promise<Manifest> {
  return withWriteLock(dir, async () => {
    const m = readManifest(dir);
    const files = loadIndexFiles(dir, m, true);
    const codec = files.codec;
    const deleted = files.tombstones;
    const generation = m.generation + 1;
    const chunks = m.chunks.map((c, i) => ({ entry: c, chunk: files.chunks[i] as Chunk }));
    let target = codec;
    try {
      if (opts.recluster) {
        // The live documents, decompressed, are the training data (originals are not kept); only the
        // sampled ones are decompressed, so memory stays bounded.
        const live = chunks.flatMap(({ chunk }) => liveDocs(chunk, deleted).map((l) => ({ chunk, l })));
        if (live.length === 0) throw new ColtsError("INPUT_INVALID", "the index has no live documents to recluster");
        const source: EmbeddingSource = {
          count: live.length,
          async *batches(only?: ReadonlySet<number>, except?: ReadonlySet<number>) {
            let batch: EmbeddedDoc[] = [];
            for (const [i, { chunk, l }] of live.entries()) {
              if (!selected(i, only, except)) continue;
              batch.push({ id: String(chunk.ordinals[l]), vectors: decompressDocs(chunk, [l], codec), n: chunk.doclens[l] as number });
              if (batch.length >= 1000) {
                yield batch;
                batch = [];
              }
            }
            await Promise.resolve();
            if (batch.length > 0) yield batch;
          },
        };
        target = (await trainCodec(source, m.dim, { nbits: m.nbits, seed: opts.seed ?? DEFAULT_SEED })).codec;
      }
      const entries: ChunkEntry[] = [];
      for (const [i, { entry, chunk }] of chunks.entries()) {
        const keep = liveDocs(chunk, deleted);
        if (!opts.recluster && keep.length === chunk.ordinals.length) {
          entries.push(entry);
          continue;
        }
        if (keep.length === 0) continue;
        const doclens = Uint32Array.from(keep, (l) => chunk.doclens[l] as number);
        let codes: Int32Array;
        let residuals: Uint8Array;
        if (opts.recluster) {
          const vectors = decompressDocs(chunk, keep, codec);
          ({ codes, residuals } = await target.compress(vectors, vectors.length / m.dim));
        } else {
          // Same codec: copy the stored codes and residuals, no recompression error added.
          const bpv = codec.bytesPerVector;
          codes = new Int32Array(doclens.reduce((a, n) => a + n, 0));
          residuals = new Uint8Array(codes.length * bpv);
          let v = 0;
          for (const l of keep) {
            const a = chunk.offsets[l] as number;
            const b = chunk.offsets[l + 1] as number;
            codes.set(chunk.codes.subarray(a, b), v);
            residuals.set(chunk.residuals.subarray(a * bpv, b * bpv), v * bpv);
            v += b - a;
          }
        }
        const next = makeChunk(Uint32Array.from(keep, (l) => chunk.ordinals[l] as number), doclens, codes, residuals, target.numCentroids);
        const file = `chunk-g${generation}-${i}.bin`;
        writeChunk(path.join(dir, file), next);
        entries.push({ file, docs: keep.length, vectors: codes.length });
      }
      let codecFile = m.codecFile;
      if (opts.recluster) {
        codecFile = `codec-g${generation}.bin`;
        writeCodec(path.join(dir, codecFile), target);
      }
      const next: Manifest = {
        ...m,
        version: INDEX_FORMAT_VERSION, // new chunks are written in the current format
        generation,
        updatedAt: now(),
        codecFile,
        numCentroids: target.numCentroids,
        chunks: entries,
        // Deleted ordinals stay tombstoned: their metadata rows may remain and ids must not resurface.
        drift: opts.recluster ? { trainedAvgResidual: target.avgResidual, lastAddAvgResidual: null } : m.drift,
      };
      writeManifest(dir, next);
      collectGarbage(dir, next);
      return next;
    } finally {
      // A retrained codec holds onnxruntime sessions once it has compressed with the two-level
      // assignment: a long-running server compacting repeatedly would leak them.
      await Promise.all([target.releaseKernels(), codec.releaseKernels()]);
    }
  });
}
