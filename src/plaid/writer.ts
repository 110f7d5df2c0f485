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
import { makeChunk, writeChunk, type Chunk } from "./chunk.js";
import type { CodecKernelOptions, ResidualCodec } from "./codec.js";
import { readCodec, readTombstones, writeCodec, writeTombstones } from "./files.js";
import { DEFAULT_SEED } from "./lloyd.js";
import { collectGarbage, INDEX_FORMAT, INDEX_FORMAT_VERSION, writeManifest, type ChunkEntry, type Manifest } from "./manifest.js";
import { MetadataStore } from "../metadata/sqlite-store.js";
import type { KeptSample } from "./kept-sample.js";
import { withWriteLock } from "./lock.js";
import { poolDoc, selected, type CodedDoc, type EmbeddedDoc, type EmbeddingSource } from "./source.js";
import { BatchWriter, type CompressedBatch } from "./batch-writer.js";
import { checkDoc, trainCodec, type CodecTrainingOptions } from "./train-codec.js";
import { checkCodec, loadIndexFiles, readManifest } from "./validate.js";

/** Default of BuildOptions.sampleMemoryBytes: 1 GiB. */
export const DEFAULT_SAMPLE_MEMORY_BYTES = 2 ** 30;
/** Kept documents handed to the chunk writer at a time when no source batch carries them. */
const KEPT_BATCH = 1000;

/** Documents per chunk file when BuildOptions.chunkDocs is not given (build and add). */
export const DEFAULT_CHUNK_DOCS = 25_000;

/** How `buildIndex` trains its codec (CodecTrainingOptions) and lays out the index; every field is optional. */
export interface BuildOptions extends CodecTrainingOptions {
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

/** Compresses documents batch by batch into chunk files, assigning ordinals from `nextOrdinal`. */
class ChunkWriter extends BatchWriter {
  readonly entries: ChunkEntry[] = [];

  constructor(
    private readonly dir: string,
    codec: ResidualCodec,
    private readonly generation: number,
    private nextOrdinal: number,
    chunkDocs: number,
    private readonly metadata: MetadataStore,
    /** Receives every document that has a text (the keyword index beside the vectors). */
    private readonly bm25: Bm25Index | null,
    kernel: CodecKernelOptions = {},
  ) {
    super(codec, chunkDocs, kernel);
  }

  get ordinal(): number {
    return this.nextOrdinal;
  }

  protected write({ docs, total, codes, residuals }: CompressedBatch): void {
    const doclens = Uint32Array.from(docs, (d) => d.n);
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
 * positions (with their codes when the codec training assigned them), the others read (encoded) from
 * the source, which is asked to leave the sample out.
 */
async function* withKeptSample(source: EmbeddingSource, kept: KeptSample, dim: number, poolFactor: number): AsyncIterable<CodedDoc[]> {
  let position = 0;
  const out: CodedDoc[] = [];
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
