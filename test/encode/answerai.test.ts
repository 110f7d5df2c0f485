/**
 * The real answerai-colbert-small-v1 files (PyLate configs, tokenizer, trained 96x384 1_Dense) with a
 * generated hidden-384 backbone: the configs load, the real head is applied, and shapes follow the
 * model's conventions (query 32, documents up to 300, 96-d).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ColBERT } from "../../src/encode/colbert.js";
import { readModelFolder } from "../../src/model/layout.js";
import { writeTinyModel } from "../../src/testing/tiny-model.js";
import { fixture, suiteDir } from "../helpers/paths.js";

const REAL = fixture("answerai-colbert-small-v1");
const REFERENCE_SUM = -3.215136078373643;
const REFERENCE_ABS_SUM = 583.4704483316882;
const dir = path.join(suiteDir(), "answerai");
let model: ColBERT;

before(async () => {
  // Generated backbone (hidden 384 like the real model, 1 layer to stay fast), then the real files on top.
  await writeTinyModel(dir, { layout: "pylate", hidden: 384, layers: 1, heads: 12, dim: 96, seed: 3 });
  for (const f of ["config.json", "config_sentence_transformers.json", "modules.json", "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]) {
    fs.copyFileSync(path.join(REAL, f), path.join(dir, f));
  }
  fs.cpSync(path.join(REAL, "1_Dense"), path.join(dir, "1_Dense"), { recursive: true });
  model = await ColBERT.load(dir, { workers: 0 });
});
after(() => model.close());

test("the real 1_Dense weights are the ones loaded (sha256 of the file, checksum of the values)", () => {
  const bytes = fs.readFileSync(path.join(REAL, "1_Dense", "model.safetensors"));
  assert.equal(crypto.createHash("sha256").update(bytes).digest("hex"), "47d2690e7c1612c84b7b941e69a883e99190b9b44ebb0be00152f68966c6eb11");
  const spec = readModelFolder(dir);
  assert.equal(spec.dense.length, 1);
  const w = spec.dense[0]!;
  assert.equal(w.inFeatures, 384);
  assert.equal(w.outFeatures, 96);
  assert.equal(w.bias, null);
  assert.equal(w.weight.length, 96 * 384);
  let sum = 0;
  let abs = 0;
  for (const x of w.weight) {
    sum += x;
    abs += Math.abs(x);
  }
  // Reference values computed once from the same file with Python's struct/array (float64 sums).
  assert.ok(Math.abs(sum - REFERENCE_SUM) < 1e-3, `sum ${sum}`);
  assert.ok(Math.abs(abs - REFERENCE_ABS_SUM) < 1e-3, `abs sum ${abs}`);
});

test("PyLate settings of the real model: [unused0]/[unused1], query 32, documents 300, no attended expansion", () => {
  const s = model.info.settings;
  assert.equal(model.info.layout, "pylate");
  assert.equal(s.queryPrefix, "[unused0]");
  assert.equal(s.documentPrefix, "[unused1]");
  assert.equal(s.queryLength, 32);
  assert.equal(s.documentLength, 300);
  assert.equal(s.attendToExpansionTokens, false);
  assert.equal(s.doQueryExpansion, true);
  assert.equal(s.skiplistWords.length, 32);
  assert.equal(model.tokenizer.expansionId, 103);
});

test("output is 96-d through the real head; query has 32 vectors; long documents stop at 300 tokens minus punctuation", async () => {
  assert.equal(model.dim, 96);
  assert.equal(model.info.headInTypeScript, true);
  const [q] = await model.encodeQueries(["what is the capital of france"]);
  assert.equal(q!.tokens, 32);
  assert.equal(q!.dim, 96);
  assert.equal(q!.vectors.length, 32 * 96);
  const long = "the quick brown fox, jumps over the lazy dog. ".repeat(60);
  const [d] = await model.encodeDocuments([long]);
  const layout = model.tokenizer.tokenizeDocument(long);
  assert.equal(layout.ids.length, 300);
  assert.equal(d!.tokens, layout.keep.reduce((a, b) => a + b, 0));
  assert.ok(d!.tokens < 300);
});
