import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import { ColBERT } from "../../src/encode/colbert.js";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readModelFolder } from "../../src/model/layout.js";
import { tokenizeDocuments, tokenizeQueries } from "../../src/train/data.js";
import { exportModel } from "../../src/train/loop.js";
import { normalizeTruncated, TrainableColbert, type TokenBatch } from "../reference/tfjs/model.js";
import { initTraining, tf } from "../reference/tfjs/tf.js";
import { tinyModel } from "../helpers/models.js";
import { tempDir } from "../helpers/paths.js";

const QUERIES = ["what is late interaction?", "a"];
const DOCS = ["ColBERT scores documents with MaxSim, token by token.", "Short one!", "Padding, punctuation; and (skiplist) tokens are removed."];

/** Kept rows of the tfjs encoding, per text, as the encoder returns them. */
function tfVectors(model: TrainableColbert, batch: TokenBatch): Float32Array[][] {
  const y = tf.tidy(() => normalizeTruncated(model.project(batch), model.dim).arraySync());
  return y.map((rows, b) => rows.filter((_, i) => batch.keep[b * batch.length + i] === 1).map((r) => Float32Array.from(r)));
}

describe("trainable model: tfjs forward == onnxruntime forward of the exported model", () => {
  before(async () => {
    await initTraining();
  });

  it("matches on every query and document vector to 1e-4, with a changed head and two layers", async (t) => {
    const src = await tinyModel(t, { layers: 2 });
    const model = new TrainableColbert(readColbertCheckpoint(src));
    // Move the weights away from the generated ones so the export carries trained-looking values.
    tf.tidy(() => {
      for (const [name, v] of model.params) if (name.startsWith("dense.") || name.includes("intermediate")) v.assign(tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, "float32", 3), 0.05)));
    });
    const out = path.join(tempDir(t), "exported");
    await exportModel(model.snapshot(), src, out);
    const spec = readModelFolder(out);
    const tok = new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings);
    const colbert = await ColBERT.load(out);
    try {
      for (const [texts, batch, ort] of [
        [QUERIES, tokenizeQueries(tok, QUERIES), await colbert.encodeQueries(QUERIES)],
        [DOCS, tokenizeDocuments(tok, DOCS), await colbert.encodeDocuments(DOCS)],
      ] as const) {
        const mine = tfVectors(model, batch);
        for (let i = 0; i < texts.length; i++) {
          const o = ort[i];
          const rows = mine[i] as Float32Array[];
          assert.ok(o);
          assert.equal(rows.length, o.tokens, `text ${i}: kept tokens`);
          for (let r = 0; r < o.tokens; r++) {
            for (let k = 0; k < o.dim; k++) {
              const diff = Math.abs((rows[r]?.[k] ?? NaN) - (o.vectors[r * o.dim + k] as number));
              assert.ok(diff <= 1e-4, `text ${i} token ${r} coord ${k}: diff ${diff}`);
            }
          }
        }
      }
    } finally {
      await colbert.close();
      model.dispose();
    }
  });
});
