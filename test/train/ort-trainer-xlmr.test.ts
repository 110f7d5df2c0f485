/**
 * Training an XLM-RoBERTa ColBERT model (Jina-ColBERT-v2 conventions: RoBERTa position ids from
 * padding idx 1, no token types, attended <mask> expansion):
 *   - the onnxruntime trainer's vectors on a padded batch equal the float64 reference forward with
 *     RoBERTa positions at every token, padding included, and not the one with BERT's positions;
 *   - its loss and whole-model gradients equal the tfjs engine's (which computes the positions
 *     itself), with one head and with separate Matryoshka heads;
 *   - a trained model, exported, encodes through the normal encoder exactly as the trained weights do.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ColBERT } from "../../src/encode/colbert.js";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readModelFolder } from "../../src/model/layout.js";
import { bertForward } from "../../src/testing/bert-reference.js";
import { makeBatch, tokenizeDocuments, tokenizeQueries, type ResolvedExample } from "../../src/train/data.js";
import { train } from "../../src/train/loop.js";
import { OrtTrainer } from "../../src/train/ort/trainer.js";
import { TrainableColbert } from "../reference/tfjs/model.js";
import { batchLoss, type ObjectiveOptions, type TrainBatch } from "../reference/tfjs/objective.js";
import { initTraining, tf } from "../reference/tfjs/tf.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir, tempDir } from "../helpers/paths.js";

/** The tiny models of this file, removed when it ends. */
const MODELS = suiteDir();

const XLMR = { arch: "xlm-roberta" as const, hidden: 16, heads: 2, layers: 2, dim: 8, queryLength: 8, documentLength: 12 };

const EXAMPLES: ResolvedExample[] = [
  { query: "red apples", docs: ["apples are red fruit", "the sky is blue", "cars have wheels"], scores: { a: [9, 2, 1] } },
  { query: "blue sky", docs: ["the sky is blue today and tomorrow", "apples are red", "dogs bark"], scores: { a: [8, 3, 0] } },
  { query: "loud dogs at night", docs: ["dogs bark", "cats sleep all day", "the sky"], scores: { a: [7, 1, 2] } },
];

async function setup(opts: Parameters<typeof tinyModel>[1] = {}): Promise<{ dir: string; tok: ColbertTokenizer; batch: TrainBatch }> {
  const dir = await tinyModel(MODELS, { ...XLMR, ...opts });
  const spec = readModelFolder(dir);
  const tok = new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings);
  return { dir, tok, batch: makeBatch(tok, EXAMPLES) };
}

describe("onnxruntime trainer on XLM-R", () => {
  before(async () => {
    await initTraining();
  });

  test("positions: the trainer's vectors of a padded batch = the float64 reference with RoBERTa positions, padding tokens included", async () => {
    const { dir, batch } = await setup();
    const ckpt = readColbertCheckpoint(dir);
    assert.deepEqual(ckpt.config.roberta, { paddingIdx: 1 });
    const docs = batch.docs;
    const S = docs.length;
    const rows = Array.from({ length: docs.rows }, (_, r) => [...docs.ids.subarray(r * S, (r + 1) * S)]);
    const padded = rows.filter((ids) => ids.includes(1)).length;
    assert.ok(padded >= 3 && padded < rows.length, `some documents padded with id 1, not all (${padded} of ${rows.length})`);
    // Padded runs compute the padding tokens too (at position paddingIdx); packed runs (the default)
    // skip them and return zero vectors there.
    const trainer = await OrtTrainer.create(ckpt, { chunkRows: 4, packSequences: false });
    const packedTrainer = await OrtTrainer.create(ckpt, { chunkRows: 4 });
    try {
      const got = (await trainer.embed(docs)).get(8) as Float32Array;
      const packed = (await packedTrainer.embed(docs)).get(8) as Float32Array;
      const head = { weight: ckpt.dense[0]?.weight as Float32Array, dim: 8 };
      const attentionMask = rows.map((_, r) => [...docs.attention.subarray(r * S, (r + 1) * S)]);
      const input = { inputIds: rows, attentionMask };
      const roberta = bertForward(ckpt.config, ckpt.weights, input, { head, normalize: true, roberta: { paddingIdx: 1 } });
      const bert = bertForward(ckpt.config, ckpt.weights, input, { head, normalize: true });
      let worst = 0;
      let worstPadding = 0;
      let fromBert = 0;
      let worstPacked = 0;
      for (const [r, ids] of rows.entries()) {
        for (let s = 0; s < S; s++) {
          for (let k = 0; k < 8; k++) {
            const v = got[(r * S + s) * 8 + k] as number;
            const p = packed[(r * S + s) * 8 + k] as number;
            worstPacked = Math.max(worstPacked, Math.abs(p - ((attentionMask[r]?.[s] as number) > 0 ? (roberta[r]?.[s * 8 + k] as number) : 0)));
            const diff = Math.abs(v - (roberta[r]?.[s * 8 + k] as number));
            worst = Math.max(worst, diff);
            if (ids[s] === 1) worstPadding = Math.max(worstPadding, diff);
            fromBert = Math.max(fromBert, Math.abs(v - (bert[r]?.[s * 8 + k] as number)));
          }
        }
      }
      assert.ok(worst < 1e-5, `max difference ${worst}`);
      assert.ok(worstPadding < 1e-5 && padded > 0, "padding tokens sit at position paddingIdx, as in bert-graph.ts");
      assert.ok(fromBert > 1e-2, `BERT positions 0..S-1 give other vectors (max difference ${fromBert})`);
      assert.ok(worstPacked < 1e-5, `packed: real tokens as the reference, zeros at padding (max difference ${worstPacked})`);
    } finally {
      await Promise.all([trainer.release(), packedTrainer.release()]);
    }
  });

  /** Loss to 1e-5 relative, every weight's gradient to 1e-4 of its largest entry, against the tfjs engine. */
  async function compare(dir: string, batch: TrainBatch, opts: ObjectiveOptions, chunkRows: number): Promise<void> {
    const ckpt = readColbertCheckpoint(dir);
    const reference = new TrainableColbert(ckpt);
    const trainer = await OrtTrainer.create(ckpt, { ...(opts.matryoshkaDims ? { dims: opts.matryoshkaDims } : {}), chunkRows });
    try {
      const { value, grads: tfGrads } = tf.variableGrads(() => batchLoss(reference, batch, opts), [...reference.params.values()]);
      const wantLoss = value.dataSync()[0] as number;
      const want = new Map(Object.entries(reference.gradsByParam(tfGrads)).map(([k, t]) => [k, new Float32Array(t.dataSync())]));
      value.dispose();
      for (const t of Object.values(tfGrads)) t.dispose();
      const got = await trainer.lossAndGradients(batch, opts);
      assert.ok(Math.abs(got.loss - wantLoss) <= 1e-5 * Math.max(1, Math.abs(wantLoss)), `loss ${got.loss} vs ${wantLoss}`);
      assert.deepEqual([...got.grads.keys()].sort(), [...want.keys()].sort(), "a gradient for every weight");
      for (const [name, w] of want) {
        const g = got.grads.get(name) as Float32Array;
        const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        for (let i = 0; i < w.length; i++) {
          if (Math.abs((g[i] as number) - (w[i] as number)) > 1e-4 * scale + 1e-9) assert.fail(`${JSON.stringify(opts)} ${name}[${i}]: onnxruntime ${g[i]} vs tfjs ${w[i]} (largest |gradient| ${scale})`);
        }
      }
      // The position table's gradient lands on RoBERTa's rows: 2.. for tokens, none on rows 0 and 1
      // (padding is never attended and its vectors are never kept).
      const pos = got.grads.get("embeddings.position_embeddings.weight") as Float32Array;
      const rowNorm = (r: number): number => Math.hypot(...pos.subarray(r * 16, (r + 1) * 16));
      assert.equal(rowNorm(0), 0);
      assert.equal(rowNorm(1), 0);
      assert.ok(rowNorm(2) > 0 && rowNorm(13) > 0, "the first and the twelfth token's positions (2 and 13) get gradient");
    } finally {
      await trainer.release();
      reference.dispose();
    }
  }

  test("loss and whole-model gradients = tfjs engine: contrastive (chunked), in-batch negatives, KL", async () => {
    const { dir, batch } = await setup();
    await compare(dir, batch, { loss: "contrastive" }, 2);
    const { docKeys: _keys, ...anonymous } = batch;
    await compare(dir, anonymous, { loss: "contrastive", inBatchNegatives: true, temperature: 0.5 }, 32);
    await compare(dir, batch, { loss: "kl", teachers: ["a"], temperature: 2 }, 4);
  });

  test("loss and whole-model gradients = tfjs engine: Matryoshka by truncation and with separate heads", async () => {
    const truncated = await setup({ matryoshkaDims: [8, 4] });
    await compare(truncated.dir, truncated.batch, { loss: "margin-mse", teachers: ["a"], matryoshkaDims: [8, 4] }, 3);
    const heads = await setup({ matryoshkaDims: [8, 4], matryoshkaHeads: true });
    await compare(heads.dir, heads.batch, { loss: "contrastive", matryoshkaDims: [8, 4] }, 3);
  });

  test("a trained XLM-R model, exported, encodes through the normal encoder exactly as the trained weights do", async (t) => {
    const { dir, tok } = await setup({ matryoshkaDims: [8, 4], matryoshkaHeads: true });
    const base = readColbertCheckpoint(dir);
    const r = await train({ model: dir, output: tempDir(t), examples: EXAMPLES, batchSize: 3, steps: 3, lr: 3e-3, loss: "contrastive", matryoshkaDims: [8, 4], seed: 2 });
    assert.ok(r.modelDir);
    const q = "encoder.layer.0.attention.self.query.weight";
    assert.notDeepEqual(r.weights.weights.get(q)?.data, base.weights.get(q)?.data, "training changed the weights");
    const exported = readColbertCheckpoint(r.modelDir);
    assert.deepEqual(exported.config, base.config);
    // The trained weights' own vectors: a trainer built from them, without dropout.
    const trained = await OrtTrainer.create({ config: base.config, ...r.weights }, { dims: [8, 4] });
    const colbert = await ColBERT.load(r.modelDir, { workers: 0 });
    try {
      const queries = ["red apples", "loud dogs at night"];
      const docs = ["apples are red fruit", "the sky is blue today and tomorrow", "dogs bark"];
      for (const dim of [8, 4]) {
        for (const [batch, encoded] of [
          [tokenizeQueries(tok, queries), await colbert.encodeQueries(queries, { dim })],
          [tokenizeDocuments(tok, docs), await colbert.encodeDocuments(docs, { dim })],
        ] as const) {
          const mine = (await trained.embed(batch)).get(dim) as Float32Array;
          for (const [i, v] of encoded.entries()) {
            const kept = [...Array(batch.length).keys()].filter((s) => batch.keep[i * batch.length + s] === 1);
            assert.equal(v.tokens, kept.length, `text ${i}: kept tokens`);
            for (const [j, s] of kept.entries()) {
              for (let k = 0; k < dim; k++) {
                const diff = Math.abs((v.vectors[j * dim + k] as number) - (mine[(i * batch.length + s) * dim + k] as number));
                assert.ok(diff <= 1e-5, `dim ${dim} text ${i} token ${s} coord ${k}: diff ${diff}`);
              }
            }
          }
        }
      }
    } finally {
      await colbert.close();
      await trained.release();
    }
  });
});
