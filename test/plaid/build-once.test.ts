/**
 * An index build reads (encodes) each document once: the codec sample's vectors are kept, in memory
 * or in a temporary file, and compressed with the others. The index must be the one that compressing
 * every document with the trained codec, in source order, gives.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ColBERT } from "../../src/encode/colbert.js";
import { encodedCorpusSource } from "../../src/plaid/corpus.js";
import { plaidSampleSize } from "../../src/plaid/kmeans.js";
import { DEFAULT_SEED } from "../../src/plaid/lloyd.js";
import { chooseSample } from "../../src/plaid/train-codec.js";
import { MetadataStore } from "../../src/metadata/sqlite-store.js";
import { arraySource, poolDoc, type EmbeddedDoc, type EmbeddingSource } from "../../src/plaid/source.js";
import { loadIndexFiles, readManifest } from "../../src/plaid/validate.js";
import { addToIndex, buildIndex, type BuildOptions } from "../../src/plaid/writer.js";
import { tinyModel } from "../helpers/models.js";
import { syntheticDocs } from "../helpers/synthetic.js";
import { fixture, tempDir } from "../helpers/paths.js";

const dim = 8;
// Past ~30,700 documents PLAID's sample is a strict subset of the corpus: sampled and other
// documents interleave in the index pass.
const corpus = syntheticDocs(31_000, dim, 7);

/** An array source that counts the documents it yields, over all passes. */
function countingSource(docs: readonly EmbeddedDoc[]): { source: EmbeddingSource; yielded: () => number } {
  const inner = arraySource(docs, 500);
  let yielded = 0;
  return {
    source: {
      count: inner.count,
      async *batches(only, except) {
        for await (const b of inner.batches(only, except)) {
          yielded += b.length;
          yield b;
        }
      },
    },
    yielded: () => yielded,
  };
}

const OPTS: BuildOptions = { numCentroids: 64, bm25: false, chunkDocs: 7_000, poolFactor: 2 };

/** Codes and residuals of the whole index in ordinal order, and the ids by ordinal. */
function indexContents(dir: string): { codes: Int32Array; residuals: Uint8Array; ids: string[] } {
  const m = readManifest(dir);
  const files = loadIndexFiles(dir, m, true);
  const codes = new Int32Array(files.chunks.reduce((a, c) => a + c.codes.length, 0));
  const residuals = new Uint8Array(files.chunks.reduce((a, c) => a + c.residuals.length, 0));
  let v = 0;
  let r = 0;
  const ordinals = files.chunks.flatMap((c) => [...c.ordinals]);
  assert.deepEqual(ordinals, Array.from({ length: m.numDocs }, (_, i) => i));
  files.chunks.forEach((c) => {
    codes.set(c.codes, v);
    residuals.set(c.residuals, r);
    v += c.codes.length;
    r += c.residuals.length;
  });
  const store = MetadataStore.open(path.join(dir, m.metadataFile));
  try {
    return { codes, residuals, ids: store.idsForOrdinals(Array.from({ length: m.numDocs }, (_, i) => i)) };
  } finally {
    store.close();
  }
}

describe("a build encodes each document once", () => {
  test("the sample is a strict subset here (else the interleaving below is not exercised)", () => {
    assert.ok(plaidSampleSize(corpus.length) < corpus.length);
  });

  test("kept in memory or spilled: every document yielded once, same index, equal to compressing each document in source order", async (t) => {
    const root = tempDir(t);
    const built: ReturnType<typeof indexContents>[] = [];
    for (const sampleMemoryBytes of [undefined, 0]) {
      const dir = path.join(root, `idx-${sampleMemoryBytes ?? "mem"}`);
      const { source, yielded } = countingSource(corpus);
      const spill = path.join(dir, "sample-g1.f32");
      const seenSpill: boolean[] = [];
      await buildIndex(dir, source, dim, {
        ...OPTS,
        ...(sampleMemoryBytes === undefined ? {} : { sampleMemoryBytes }),
        onProgress: (e) => e.phase === "index" && seenSpill.push(fs.existsSync(spill)),
      });
      assert.equal(yielded(), corpus.length, "each document is yielded once");
      assert.equal(seenSpill.every((s) => s === (sampleMemoryBytes === 0)), true, `spill file present during the index pass: ${String(sampleMemoryBytes === 0)}`);
      assert.equal(fs.existsSync(spill), false, "the spill file is removed");
      built.push(indexContents(dir));
    }
    const [mem, spilled] = built as [ReturnType<typeof indexContents>, ReturnType<typeof indexContents>];
    assert.deepEqual(spilled.codes, mem.codes);
    assert.deepEqual(spilled.residuals, mem.residuals);
    assert.deepEqual(mem.ids, corpus.map((d) => d.id));
    // The reference: every pooled document compressed with the trained codec, in source order.
    const dir = path.join(root, "idx-mem");
    const codec = loadIndexFiles(dir, readManifest(dir), true).codec;
    try {
      const pooled = corpus.map((d) => poolDoc(d, dim, 2));
      const x = new Float32Array(pooled.reduce((a, d) => a + d.n * dim, 0));
      let off = 0;
      for (const d of pooled) {
        x.set(d.vectors.subarray(0, d.n * dim), off);
        off += d.n * dim;
      }
      const ref = await codec.compress(x, x.length / dim);
      assert.deepEqual(mem.codes, ref.codes);
      assert.deepEqual(mem.residuals, ref.residuals);
    } finally {
      await codec.releaseKernels();
    }
  });

  test("with a two-level assignment the sampled documents keep their warm-started codes; the others get the codec's", async (t) => {
    const dir = path.join(tempDir(t), "idx");
    // No k-means subsample (faiss' 256 points per centroid would apply here): its codes cover the sample.
    const opts: BuildOptions = { ...OPTS, numCentroids: 256, assignment: "two-level", kmeansMaxPointsPerCentroid: 1e6 };
    await buildIndex(dir, arraySource(corpus, 500), dim, opts);
    const got = indexContents(dir);
    const codec = loadIndexFiles(dir, readManifest(dir), true).codec;
    try {
      const pooled = corpus.map((d) => poolDoc(d, dim, 2));
      const sampled = chooseSample(corpus.length, DEFAULT_SEED);
      const x = new Float32Array(pooled.reduce((a, d) => a + d.n * dim, 0));
      const inSample: boolean[] = [];
      let off = 0;
      pooled.forEach((d, i) => {
        x.set(d.vectors.subarray(0, d.n * dim), off);
        off += d.n * dim;
        for (let r = 0; r < d.n; r++) inSample.push(sampled.has(i));
      });
      const rows = x.length / dim;
      const twoLevel = await codec.codes(x, rows, { assignment: "two-level" });
      const exact = await codec.codes(x, rows, { assignment: "exact" });
      let sampleRows = 0;
      let sampleExact = 0;
      let sampleUnlikeTwoLevel = 0;
      for (let r = 0; r < rows; r++) {
        if (!inSample[r]) {
          assert.equal(got.codes[r], twoLevel[r], `row ${r} (not sampled) is assigned by the codec`);
          continue;
        }
        sampleRows++;
        if (got.codes[r] === exact[r]) sampleExact++;
        if (got.codes[r] !== twoLevel[r]) sampleUnlikeTwoLevel++;
      }
      assert.ok(sampleRows > 0 && sampleRows < rows);
      assert.ok(sampleExact >= 0.97 * sampleRows, `${sampleExact}/${sampleRows} sampled rows have their exact code`);
      assert.ok(sampleUnlikeTwoLevel > 0, "the sampled rows' codes come from the warm start, not the writer's assignment");
      assert.deepEqual(got.residuals, codec.binarize(x, Int32Array.from(got.codes)), "residuals are those of the stored codes");
    } finally {
      await codec.releaseKernels();
    }
  });

  test("a failed build removes its spill file; a file left by a killed build goes with the next write", async (t) => {
    const dir = path.join(tempDir(t), "idx");
    const docs = [...corpus.slice(0, 2000), { ...(corpus[5] as EmbeddedDoc) }];
    await assert.rejects(buildIndex(dir, arraySource(docs, 500), dim, { ...OPTS, sampleMemoryBytes: 0 }), { message: /duplicate document id/ });
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("sample-")), []);
    fs.writeFileSync(path.join(dir, "sample-g1.f32"), new Uint8Array(64)); // as a killed build leaves it
    await buildIndex(dir, arraySource(corpus.slice(0, 2000), 500), dim, OPTS);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("sample-")), []);
  });

  test("a source that ignores `except` is refused, not indexed twice", async (t) => {
    const docs = corpus.slice(0, 1000);
    const careless: EmbeddingSource = { count: docs.length, batches: (only) => arraySource(docs, 100).batches(only) };
    await assert.rejects(buildIndex(path.join(tempDir(t), "idx"), careless, dim, OPTS), { code: "INPUT_INVALID", message: /must honour `except`/ });
  });

  test("progress: each phase reports per batch, never goes back, and ends at done === total", async (t) => {
    const events: { phase: string; done: number; total: number }[] = [];
    await buildIndex(path.join(tempDir(t), "idx"), arraySource(corpus, 1000), dim, { ...OPTS, onProgress: (e) => events.push(e) });
    for (const phase of ["sample", "train", "index"]) {
      const mine = events.filter((e) => e.phase === phase);
      assert.ok(mine.length >= (phase === "train" ? 5 : 20), `${phase}: ${mine.length} events`);
      for (let i = 1; i < mine.length; i++) assert.ok((mine[i] as { done: number }).done >= (mine[i - 1] as { done: number }).done, phase);
      const last = mine[mine.length - 1] as { done: number; total: number };
      assert.equal(last.done, last.total, phase);
    }
    assert.equal(events.filter((e) => e.phase === "index").at(-1)?.total, corpus.length);
  });

  test("add reports per batch too, not only when a chunk file is written", async (t) => {
    const dir = path.join(tempDir(t), "idx");
    await buildIndex(dir, arraySource(corpus.slice(0, 1000), 500), dim, OPTS);
    const done: number[] = [];
    await addToIndex(dir, arraySource(syntheticDocs(900, dim, 8, "new"), 100), { chunkDocs: 25_000, onProgress: (e) => done.push(e.done) });
    assert.deepEqual(done, [100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });
});

describe("encoder calls from a corpus file", () => {
  test("build encodes each document once; add encodes each new document once", async (t) => {
    const root = tempDir(t);
    const model = await ColBERT.load(await tinyModel(root, { layout: "onnx", hidden: 32, layers: 1, heads: 2, dim: 16 }), { workers: 0 });
    try {
      const texts: string[] = [];
      const encode = model.encodeDocuments.bind(model);
      t.mock.method(model, "encodeDocuments", (batch: string[]) => {
        texts.push(...batch);
        return encode(batch);
      });
      const dir = path.join(root, "idx");
      const file = fixture("cacm-slice", "corpus.jsonl");
      const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").length;
      await buildIndex(dir, await encodedCorpusSource(file, model, { batchSize: 64 }), model.dim, { bm25: false });
      assert.equal(texts.length, lines); // was twice as many when the sample (here the whole corpus) was encoded again
      texts.length = 0;
      const more = path.join(root, "more.jsonl");
      fs.writeFileSync(more, ["a", "b", "c"].map((id) => JSON.stringify({ id: `new-${id}`, text: `new document ${id}` })).join("\n"));
      await addToIndex(dir, await encodedCorpusSource(more, model));
      assert.deepEqual(texts, ["new document a", "new document b", "new document c"]);
    } finally {
      await model.close();
    }
  });

  test("a corpus source leaves out `except` before encoding and keeps the order", async (t) => {
    const root = tempDir(t);
    const model = await ColBERT.load(await tinyModel(root, { layout: "onnx", hidden: 32, layers: 1, heads: 2, dim: 16 }), { workers: 0 });
    try {
      const file = path.join(root, "c.jsonl");
      fs.writeFileSync(file, Array.from({ length: 7 }, (_, i) => JSON.stringify({ id: `d${i}`, text: `text ${i}` })).join("\n"));
      const texts: string[] = [];
      const encode = model.encodeDocuments.bind(model);
      t.mock.method(model, "encodeDocuments", (batch: string[]) => {
        texts.push(...batch);
        return encode(batch);
      });
      const source = await encodedCorpusSource(file, model, { batchSize: 2 });
      const ids: string[] = [];
      for await (const b of source.batches(undefined, new Set([0, 3, 6]))) ids.push(...b.map((d) => d.id));
      assert.deepEqual(ids, ["d1", "d2", "d4", "d5"]);
      assert.deepEqual(texts, ["text 1", "text 2", "text 4", "text 5"]);
    } finally {
      await model.close();
    }
  });
});
