/**
 * The PLAID index end to end with a generated model on a real collection slice (CACM), and with
 * synthetic embeddings supplied by the caller: PLAID vs exact recall, updates, stable ids, filters,
 * corruption refusal.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ColBERT } from "../../src/encode/colbert.js";
import { readCorpus } from "../../src/corpus/reader.js";
import { ResidualCodec } from "../../src/plaid/codec.js";
import { encodedCorpusSource } from "../../src/plaid/corpus.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { addToIndex, buildIndex, compactIndex, deleteFromIndex } from "../../src/plaid/writer.js";
import { tinyModel } from "../helpers/models.js";
import { syntheticDocs } from "../helpers/synthetic.js";
import { fixture, suiteDir, tempDir, type Cleanup } from "../helpers/paths.js";

function query(doc: EmbeddedDoc, dim: number): { vectors: Float32Array; tokens: number; dim: number } {
  return { vectors: doc.vectors, tokens: doc.n, dim };
}

async function built(t: Cleanup, docs: EmbeddedDoc[], dim: number, nbits: 1 | 2 | 4 = 2): Promise<string> {
  const dir = path.join(tempDir(t), "idx");
  await buildIndex(dir, arraySource(docs, 100), dim, { nbits, chunkDocs: 150 });
  return dir;
}

describe("PLAID on CACM with a generated model", () => {
  const root = suiteDir();
  let model: ColBERT;
  let dir = "";
  const queries: string[] = [];
  before(async () => {
    // Word embeddings 10x BERT's init scale: token identity dominates the vectors, as in trained
    // ColBERT models (a fresh BERT init weighs tokens and positions equally, which no real
    // checkpoint does); PLAID's centroid-based stages rely on that structure.
    const modelDir = await tinyModel(root, { layout: "onnx", hidden: 64, layers: 1, heads: 4, dim: 32, wordEmbeddingStd: 0.2 });
    model = await ColBERT.load(modelDir, { workers: 0 });
    dir = path.join(root, "cacm");
    const corpus = fixture("cacm-slice", "corpus.jsonl");
    await buildIndex(dir, await encodedCorpusSource(corpus, model, { metadataFields: ["year"] }), model.dim, { nbits: 2, model: null });
    for await (const { doc } of readCorpus(fixture("cacm-slice", "queries.jsonl"))) queries.push(doc.text);
  });
  after(() => model.close());

  test("PLAID top-10 vs exact top-10: recall@10 >= 0.95 at default parameters", async () => {
    const index = await PlaidIndex.open(dir);
    try {
      const qs = await model.encodeQueries(queries);
      let overlap = 0;
      for (const q of qs) {
        const approx = await index.search(q, { k: 10 });
        const exact = await index.search(q, { k: 10, exact: true });
        const truth = new Set(exact.map((h) => h.id));
        overlap += approx.filter((h) => truth.has(h.id)).length;
        assert.equal(approx.length, 10);
        for (let i = 1; i < approx.length; i++) assert.ok((approx[i - 1] as { score: number }).score >= (approx[i] as { score: number }).score);
      }
      const recall = overlap / (10 * qs.length);
      assert.ok(recall >= 0.95, `recall@10 ${recall}`);
      const info = index.info();
      assert.equal(info.documents, 600);
      assert.equal(info.dim, 32);
      assert.ok(info.bytesPerVector < 4 + 32 * 2 / 8 + 4, `bytes per vector ${info.bytesPerVector}`);
    } finally {
      await index.close();
    }
  });

  test("metadata is returned with hits and filters are applied before scoring (k results when k match)", async () => {
    const index = await PlaidIndex.open(dir);
    try {
      const [q] = await model.encodeQueries([queries[0] as string]);
      const hits = await index.search(q!, { k: 5, filter: "year = 1959" });
      const matching = [];
      for await (const { doc } of readCorpus(fixture("cacm-slice", "corpus.jsonl"), { metadataFields: ["year"] })) if (doc.metadata?.["year"] === 1959) matching.push(doc.id);
      assert.equal(hits.length, Math.min(5, matching.length));
      for (const h of hits) assert.equal(h.metadata?.["year"], 1959);
      const subset = await index.search(q!, { k: 10, ids: matching.slice(0, 3) });
      assert.deepEqual(subset.map((h) => h.id).sort(), matching.slice(0, 3).sort());
    } finally {
      await index.close();
    }
  });
});

describe("caller-supplied embeddings", () => {
  const dim = 32;
  const docs = syntheticDocs(400, dim, 11);

  test("each document finds itself first (PLAID and exact), for nbits 1, 2, 4", async (t) => {
    for (const nbits of [1, 2, 4] as const) {
      const index = await PlaidIndex.open(await built(t, docs, dim, nbits));
      try {
        for (const d of docs.slice(0, 20)) {
          assert.equal((await index.search(query(d, dim), { k: 1 }))[0]?.id, d.id, `nbits ${nbits} PLAID`);
          assert.equal((await index.search(query(d, dim), { k: 1, exact: true }))[0]?.id, d.id, `nbits ${nbits} exact`);
        }
      } finally {
        await index.close();
      }
    }
  });

  test("add then search finds new documents; delete then search never returns them; ids stable after compaction", async (t) => {
    const dir = await built(t, docs, dim);
    const extra = syntheticDocs(60, dim, 99, "new");
    await addToIndex(dir, arraySource(extra));
    let index = await PlaidIndex.open(dir);
    assert.equal((await index.search(query(extra[5]!, dim), { k: 1 }))[0]?.id, "new5");
    const ordinalBefore = (await index.search(query(docs[7]!, dim), { k: 1 }))[0]?.ordinal;
    await index.close();

    const r = await deleteFromIndex(dir, ["d3", "new5", "nope"]);
    assert.deepEqual(r.deleted, ["d3", "new5"]);
    assert.deepEqual(r.missing, ["nope"]);
    index = await PlaidIndex.open(dir);
    for (const d of [docs[3]!, extra[5]!]) {
      for (const exact of [false, true]) {
        const hits = await index.search(query(d, dim), { k: 50, exact });
        assert.ok(!hits.some((h) => h.id === d.id), `${d.id} returned after delete (exact ${exact})`);
      }
    }
    assert.equal(index.info().liveDocuments, 458);
    await index.close();

    for (const recluster of [false, true]) {
      await compactIndex(dir, { recluster });
      index = await PlaidIndex.open(dir);
      const top = (await index.search(query(docs[7]!, dim), { k: 1 }))[0];
      assert.equal(top?.id, "d7");
      assert.equal(top?.ordinal, ordinalBefore, "ordinals never renumbered");
      assert.ok(!(await index.search(query(docs[3]!, dim), { k: 50 })).some((h) => h.id === "d3"));
      assert.equal(index.info().liveDocuments, 458);
      await index.close();
    }
    // A deleted id can come back as a new document.
    await addToIndex(dir, arraySource([{ ...docs[3]!, id: "d3" }]));
    index = await PlaidIndex.open(dir);
    assert.equal((await index.search(query(docs[3]!, dim), { k: 1 }))[0]?.id, "d3");
    await index.close();
  });

  test("plain compaction keeps the live documents' stored codes: same hits and scores, vectors counted per chunk", async (t) => {
    const dir = await built(t, docs, dim);
    const gone = docs.filter((_, i) => i % 7 === 0).map((d) => d.id);
    await deleteFromIndex(dir, gone);
    const probe = async (): Promise<unknown[]> => {
      const index = await PlaidIndex.open(dir);
      try {
        const out: unknown[] = [];
        for (const d of docs.slice(0, 30)) {
          for (const exact of [false, true]) out.push((await index.search(query(d, dim), { k: 20, exact })).map((h) => [h.id, h.ordinal, h.score]));
        }
        return out;
      } finally {
        await index.close();
      }
    };
    const before = await probe();
    const m = await compactIndex(dir);
    assert.deepEqual(await probe(), before);
    const live = docs.filter((d) => !gone.includes(d.id));
    assert.equal(m.chunks.reduce((a, c) => a + c.docs, 0), live.length);
    assert.equal(m.chunks.reduce((a, c) => a + c.vectors, 0), live.reduce((a, d) => a + d.n, 0));
    const index = await PlaidIndex.open(dir);
    assert.equal(index.info().liveDocuments, live.length);
    await index.close();
  });

  test("every codec that assigned codes releases its kernels: build, add and recluster, on success and on failure", async (t) => {
    const codes = t.mock.method(ResidualCodec.prototype, "codes");
    const released = t.mock.method(ResidualCodec.prototype, "releaseKernels");
    const compress = t.mock.method(ResidualCodec.prototype, "compress");
    const pack = t.mock.method(ResidualCodec.prototype, "binarizeInto");
    /** The codecs that assigned codes since the last call and did not release their kernels. */
    const leaked = (): number => {
      const freed = new Set(released.mock.calls.map((c) => c.this));
      const users = new Set(codes.mock.calls.map((c) => c.this));
      codes.mock.resetCalls();
      released.mock.resetCalls();
      assert.ok(users.size > 0, "the operation assigned codes (else this check proves nothing)");
      return [...users].filter((c) => !freed.has(c)).length;
    };
    const dir = path.join(tempDir(t), "idx");
    // The second chunk's compression fails (as a disk or kernel error would) after the first succeeded:
    // the writer packs each document's residuals on its own, so call 151 is chunk 2's first document.
    pack.mock.mockImplementationOnce(() => {
      throw new Error("compression failed");
    }, pack.mock.callCount() + 150);
    await assert.rejects(buildIndex(dir, arraySource(docs, 100), dim, { chunkDocs: 150 }), { message: "compression failed" });
    assert.equal(leaked(), 0, "failed build");
    await buildIndex(dir, arraySource(docs, 100), dim, { chunkDocs: 150 });
    assert.equal(leaked(), 0, "build");
    const extra = syntheticDocs(120, dim, 5, "x");
    await assert.rejects(addToIndex(dir, arraySource([...extra, docs[1]!], 50), { chunkDocs: 40 }), { message: /already in the index/ });
    assert.equal(leaked(), 0, "failed add");
    await addToIndex(dir, arraySource(extra, 50), { chunkDocs: 40 });
    assert.equal(leaked(), 0, "add");
    await compactIndex(dir, { recluster: true });
    assert.equal(leaked(), 0, "recluster");
    compress.mock.mockImplementationOnce(() => Promise.reject(new Error("compression failed")), compress.mock.callCount() + 1);
    await assert.rejects(compactIndex(dir, { recluster: true }), { message: "compression failed" });
    assert.equal(leaked(), 0, "failed recluster");
  });

  test("drift: documents from elsewhere are flagged, documents like the training data are not", async (t) => {
    const dir = await built(t, docs, dim);
    await addToIndex(dir, arraySource(syntheticDocs(50, dim, 11, "same").map((d, i) => ({ ...d, vectors: docs[i]!.vectors, n: docs[i]!.n }))));
    let index = await PlaidIndex.open(dir);
    assert.equal(index.info().drifted, false);
    await index.close();
    // Other topic centres: the index's centroids no longer describe these vectors.
    await addToIndex(dir, arraySource(syntheticDocs(50, dim, 12345, "other")));
    index = await PlaidIndex.open(dir);
    assert.equal(index.info().drifted, true);
    await index.close();
    await compactIndex(dir, { recluster: true });
    index = await PlaidIndex.open(dir);
    assert.equal(index.info().drifted, false, "reclustering resets the reference");
    await index.close();
  });

  test("duplicate ids, an existing index and empty corpora are refused", async (t) => {
    const dir = await built(t, docs.slice(0, 50), dim);
    await assert.rejects(buildIndex(dir, arraySource(docs), dim), { code: "INPUT_INVALID", message: /already holds an index/ });
    await assert.rejects(addToIndex(dir, arraySource([docs[0]!])), { code: "INPUT_INVALID", message: /already in the index/ });
    await assert.rejects(buildIndex(path.join(tempDir(t), "x"), arraySource([]), dim), { code: "INPUT_INVALID" });
    await assert.rejects(buildIndex(path.join(tempDir(t), "y"), arraySource([docs[0]!, docs[0]!]), dim), { code: "INPUT_INVALID", message: /duplicate/ });
  });

  test("corrupted manifest, truncated chunk, wrong version: each refused with its code", async (t) => {
    const dir = await built(t, docs.slice(0, 200), dim);
    const manifestFile = path.join(dir, "manifest.json");
    const good = fs.readFileSync(manifestFile, "utf8");
    const m = JSON.parse(good) as { version: number; chunks: { file: string }[] };

    fs.writeFileSync(manifestFile, good.slice(0, 40));
    await assert.rejects(PlaidIndex.open(dir), { code: "INDEX_CORRUPT" });

    fs.writeFileSync(manifestFile, JSON.stringify({ ...m, version: 99 }));
    await assert.rejects(PlaidIndex.open(dir), { code: "INDEX_VERSION" });

    fs.writeFileSync(manifestFile, good);
    const chunk = path.join(dir, m.chunks[0]!.file);
    fs.writeFileSync(chunk, fs.readFileSync(chunk).subarray(0, 100));
    await assert.rejects(PlaidIndex.open(dir), (e: Error & { code?: string }) => e.code === "INDEX_CORRUPT" && e.message.includes(m.chunks[0]!.file));

    await assert.rejects(PlaidIndex.open(path.join(dir, "missing")), { code: "INDEX_NOT_FOUND" });
  });
});
