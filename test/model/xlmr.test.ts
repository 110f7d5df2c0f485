/**
 * XLM-RoBERTa / Jina-ColBERT-v2 conventions on a generated model: RoBERTa position ids in the graph
 * (against the slow reference), no token_type_ids, [QueryMarker]/[DocumentMarker] layout, attended
 * <mask> expansion, Matryoshka by truncation and by separate heads, an 8192-token document.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { ColBERT } from "../../src/encode/colbert.js";
import { InProcessEncoder, planBatches } from "../../src/encode/encoder.js";
import type { MultiVector } from "../../src/encode/multivector.js";
import { tokenizerForSpec } from "../../src/encode/tokenize.js";
import { isColtsError } from "../../src/errors.js";
import { buildBertOnnx } from "../../src/model/bert-graph.js";
import { bertForward } from "../../src/testing/bert-reference.js";
import { randomBertWeights, type BertConfig } from "../../src/model/bert-weights.js";
import { readModelFolder } from "../../src/model/layout.js";
import { encodeModel } from "../../src/runtime/onnx/proto.js";
import { Rng } from "../../src/util/rng.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir } from "../helpers/paths.js";
import { maxAbsDiff } from "../helpers/vectors.js";

const XLMR = { arch: "xlm-roberta" as const, hidden: 32, layers: 1, heads: 2, dim: 16, seed: 3 };

test("RoBERTa position ids: ONNX graph == reference forward (pad id 1 -> position 1, tokens from 2), no token_type_ids input", async () => {
  const cfg: BertConfig = { vocabSize: 50, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 14, typeVocabSize: 1, layerNormEps: 1e-5 };
  const weights = randomBertWeights(cfg, 11);
  const rng = new Rng(4);
  // Rows of 12 ids: real tokens (never 1), then padding id 1 with attention 0; row 2 has attended "expansion" ids.
  const lengths = [12, 5, 8];
  const inputIds = lengths.map((n) => Array.from({ length: 12 }, (_, i) => (i < n ? 2 + rng.int(cfg.vocabSize - 2) : 1)));
  const attentionMask = lengths.map((n) => Array.from({ length: 12 }, (_, i) => (i < n ? 1 : 0)));
  const model = buildBertOnnx(cfg, weights, { tokenTypeIds: false, roberta: { paddingIdx: 1 } });
  const session = await ort.InferenceSession.create(encodeModel(model));
  assert.deepEqual([...session.inputNames].sort(), ["attention_mask", "input_ids"]);
  const t = (rows: number[][]): ort.Tensor => new ort.Tensor("int64", BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, 12]);
  const out = (await session.run({ input_ids: t(inputIds), attention_mask: t(attentionMask) }))["last_hidden_state"]?.data as Float32Array;
  await session.release();
  const ref = bertForward(cfg, weights, { inputIds, attentionMask }, { roberta: { paddingIdx: 1 } });
  const bertPositions = bertForward(cfg, weights, { inputIds, attentionMask });
  let worst = 0;
  let differsFromBert = 0;
  ref.forEach((r, b) => {
    for (let s = 0; s < (lengths[b] ?? 0); s++) {
      for (let i = 0; i < 16; i++) {
        const o = out[(b * 12 + s) * 16 + i] ?? NaN;
        worst = Math.max(worst, Math.abs(o - (r[s * 16 + i] ?? NaN)));
        differsFromBert = Math.max(differsFromBert, Math.abs(o - (bertPositions[b]?.[s * 16 + i] ?? NaN)));
      }
    }
  });
  assert.ok(worst < 1e-4, `max diff ${worst}`);
  assert.ok(differsFromBert > 1e-2, "positions offset by paddingIdx + 1 must differ from BERT's 0-based positions");
});

describe("generated XLM-R model (Jina-ColBERT-v2 conventions)", () => {
  const root = suiteDir();
  let dir = "";
  before(async () => {
    dir = await tinyModel(root, XLMR);
  });

  test("layout: <s> [QueryMarker] ... </s> <mask>... with the expansion attended; <s> [DocumentMarker] ... </s>", () => {
    const tok = tokenizerForSpec(readModelFolder(dir));
    const mask = tok.expansionId;
    assert.equal(tok.idToToken(mask), "<mask>");
    assert.equal(tok.idToToken(tok.padId), "<pad>");
    const q = tok.tokenizeQuery("What is the capital of France?");
    assert.equal(q.ids.length, 32);
    assert.deepEqual([tok.idToToken(q.ids[0] ?? -1), tok.idToToken(q.ids[1] ?? -1)], ["<s>", "[QueryMarker]"]);
    const end = q.ids.indexOf(2);
    assert.ok(end > 2 && q.ids.slice(end + 1).every((id) => id === mask), "</s> then <mask> expansion");
    assert.ok(q.attention.every((a) => a === 1), "Jina attends the expansion tokens");
    assert.ok(q.keep.every((k) => k === 1));
    const d = tok.tokenizeDocument("Paris is the capital of France.");
    assert.deepEqual([tok.idToToken(d.ids[0] ?? -1), tok.idToToken(d.ids[1] ?? -1), tok.idToToken(d.ids[d.ids.length - 1] ?? -1)], ["<s>", "[DocumentMarker]", "</s>"]);
  });

  test("attended expansion changes the real tokens' vectors (not attending them gives different ones)", async () => {
    const attended = await ColBERT.load(dir, { workers: 0 });
    const notAttended = await ColBERT.load(dir, { workers: 0, settings: { attendToExpansionTokens: false } });
    try {
      const [a] = await attended.encodeQueries(["capital of France"]);
      const [b] = await notAttended.encodeQueries(["capital of France"]);
      assert.ok(a && b);
      assert.ok(maxAbsDiff(a, b) > 1e-3);
    } finally {
      await attended.close();
      await notAttended.close();
    }
  });

  test("batching with <pad> (RoBERTa padding_idx) changes nothing", async () => {
    const m = await ColBERT.load(dir, { workers: 0 });
    try {
      const texts = ["Tokyo is the capital of Japan.", "short", "東京は日本の首都です。 and a much longer document about the river in the city of Berlin"];
      const together = await m.encodeDocuments(texts, { batchSize: 8, maxBatchTokens: 100000 });
      const alone = await Promise.all(texts.map(async (t) => (await m.encodeDocuments([t]))[0] as MultiVector));
      together.forEach((v, i) => assert.ok(maxAbsDiff(v, alone[i] as MultiVector) < 1e-5));
    } finally {
      await m.close();
    }
  });
});

describe("Matryoshka", () => {
  const root = suiteDir();

  test("truncation (matryoshka_dims, one head): dim d = the first d components re-normalised; undeclared dims refused", async () => {
    const m = await ColBERT.load(await tinyModel(root, { ...XLMR, matryoshkaDims: [16, 12, 8] }), { workers: 0 });
    try {
      const [full] = await m.encodeDocuments(["Paris is the capital of France."]);
      const [small] = await m.encodeDocuments(["Paris is the capital of France."], { dim: 8 });
      assert.ok(full && small && small.dim === 8);
      for (let t = 0; t < full.tokens; t++) {
        const row = full.vectors.subarray(t * 16, t * 16 + 8);
        const n = Math.hypot(...row);
        for (let i = 0; i < 8; i++) assert.ok(Math.abs((row[i] ?? 0) / n - (small.vectors[t * 8 + i] ?? 0)) < 1e-5);
      }
      await assert.rejects(m.encodeDocuments(["x"], { dim: 10 }), (e: unknown) => isColtsError(e, "DIM_UNSUPPORTED"));
    } finally {
      await m.close();
    }
  });

  test("separate heads (matryoshka_heads): dim d uses its own head, not a truncation", async () => {
    const dir = await tinyModel(root, { ...XLMR, matryoshkaDims: [16, 12, 8], matryoshkaHeads: true });
    const spec = readModelFolder(dir);
    assert.deepEqual([...spec.matryoshkaHeads.keys()].sort(), [12, 8]);
    const m = await InProcessEncoder.create(spec);
    // The same backbone with the 8-d head as its only head: what dim 8 must produce.
    const only8 = await InProcessEncoder.create({ ...spec, dense: [spec.matryoshkaHeads.get(8)!], matryoshkaHeads: new Map(), settings: { ...spec.settings, matryoshkaDims: [] } });
    try {
      const text = ["Paris is the capital of France."];
      const [full] = await m.encodeDocuments(text);
      const [small] = await m.encodeDocuments(text, { dim: 8 });
      const [expected] = await only8.encodeDocuments(text);
      assert.ok(full && small && expected);
      assert.ok(maxAbsDiff(small, expected) < 1e-6);
      let truncationGap = 0;
      for (let t = 0; t < full.tokens; t++) {
        const row = full.vectors.subarray(t * 16, t * 16 + 8);
        const n = Math.hypot(...row);
        for (let i = 0; i < 8; i++) truncationGap = Math.max(truncationGap, Math.abs((row[i] ?? 0) / n - (small.vectors[t * 8 + i] ?? 0)));
      }
      assert.ok(truncationGap > 0.05, "a separate head is not the truncation of the main one");
    } finally {
      await m.close();
      await only8.close();
    }
  });
});

describe("long documents", () => {
  const root = suiteDir();
  let model: InProcessEncoder | null = null;
  after(async () => model?.close());

  test("an 8192-token document encodes alone; other batches stay within the token budget", async () => {
    const dir = await tinyModel(root, { ...XLMR, hidden: 16, heads: 1, dim: 8, documentLength: 8192 });
    model = await InProcessEncoder.create(readModelFolder(dir));
    const long = "the river of the city ".repeat(2000); // 10,000 words, cut to 8192 tokens
    const texts = [long, ...Array.from({ length: 12 }, (_, i) => `document ${i} about Tokyo and the capital of Japan`)];
    const rows = texts.map((t) => model!.tokenizer.tokenizeDocument(t));
    assert.equal(rows[0]?.ids.length, 8192);
    const budget = 256;
    const batches = planBatches(rows, 32, budget);
    for (const b of batches) {
      const padded = b.length * Math.max(...b.map((i) => rows[i]?.ids.length ?? 0));
      assert.ok(b.length === 1 || padded <= budget, `batch of ${b.length} pads to ${padded} tokens`);
    }
    assert.deepEqual(batches.find((b) => b.includes(0)), [0], "the long document runs alone");
    const out = await model.encodeDocuments(texts, { maxBatchTokens: budget });
    assert.equal(out[0]?.tokens, 8192); // no punctuation: every position kept
    for (let t = 0; t < 8192; t += 1024) assert.ok(Math.abs(Math.hypot(...(out[0]?.vectors.subarray(t * 8, t * 8 + 8) ?? [])) - 1) < 1e-4);
    const [alone] = await model.encodeDocuments([texts[5] as string]);
    assert.ok(maxAbsDiff(out[5] as MultiVector, alone as MultiVector) < 1e-5);
  });
});
