import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { buildBertOnnx, quantizeInt8Symmetric } from "../../src/model/bert-graph.js";
import { bertForward, erf } from "../../src/testing/bert-reference.js";
import { bertConfigFromHf, bertConfigToHf, randomBertWeights, type BertConfig } from "../../src/model/bert-weights.js";
import { encodeModel, type OnnxModel } from "../../src/runtime/onnx/proto.js";
import { writeOnnxModel } from "../../src/runtime/onnx/write.js";
import { isColtsError } from "../../src/errors.js";
import { Rng } from "../../src/util/rng.js";

const cfg: BertConfig = {
  vocabSize: 200,
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 64,
  maxPositions: 64,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
};
const weights = randomBertWeights(cfg, 7);
const headDim = 16;
const head = { weight: new Rng(99).normalArray(headDim * cfg.hiddenSize, 0.2), dim: headDim };

/** 3 sequences of lengths 7, 4, 10, right-padded with id 0 to 10; token types 0 then 1 halfway. */
function makeBatch(): { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds: number[][] } {
  const rng = new Rng(5);
  const lengths = [7, 4, 10];
  const seq = 10;
  return {
    inputIds: lengths.map((n) => Array.from({ length: seq }, (_, i) => (i < n ? 1 + rng.int(cfg.vocabSize - 1) : 0))),
    attentionMask: lengths.map((n) => Array.from({ length: seq }, (_, i) => (i < n ? 1 : 0))),
    tokenTypeIds: lengths.map((n) => Array.from({ length: seq }, (_, i) => (i >= n / 2 && i < n ? 1 : 0))),
  };
}
const batch = makeBatch();

const int64 = (rows: number[][]): ort.Tensor =>
  new ort.Tensor("int64", BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0]!.length]);

/** Runs a model (bytes or path) and returns its only output as [batch * seq * dim] plus dims. */
async function run(model: Uint8Array | string, withTypes: boolean): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = typeof model === "string" ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  const feeds: Record<string, ort.Tensor> = { input_ids: int64(batch.inputIds), attention_mask: int64(batch.attentionMask) };
  if (withTypes) feeds["token_type_ids"] = int64(batch.tokenTypeIds);
  const out = await session.run(feeds);
  const name = session.outputNames[0]!;
  await session.release();
  return { data: out[name]!.data as Float32Array, dims: out[name]!.dims };
}

/** Max |onnx - reference| over attended positions. */
function maxDiff(onnx: Float32Array, ref: Float32Array[], dim: number): number {
  let worst = 0;
  const seq = batch.inputIds[0]!.length;
  ref.forEach((r, b) => {
    batch.attentionMask[b]!.forEach((m, s) => {
      if (!m) return;
      for (let d = 0; d < dim; d++) worst = Math.max(worst, Math.abs(onnx[(b * seq + s) * dim + d]! - r[s * dim + d]!));
    });
  });
  return worst;
}

test("reference erf matches known values", () => {
  const known: [number, number][] = [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2.9, 0.9999589021219005], [3, 0.9999779095030014], [-4, -0.9999999845827421]];
  for (const [x, v] of known) assert.ok(Math.abs(erf(x) - v) < 1e-14, `erf(${x}) = ${erf(x)}`);
});

for (const variant of [
  { name: "no head, token types", tokenTypeIds: true, head: false, normalize: false },
  { name: "no head, no token types", tokenTypeIds: false, head: false, normalize: false },
  { name: "head + normalize, token types", tokenTypeIds: true, head: true, normalize: true },
  { name: "head + normalize, no token types", tokenTypeIds: false, head: true, normalize: true },
]) {
  test(`ONNX BERT == reference forward (${variant.name})`, async () => {
    const opts = { tokenTypeIds: variant.tokenTypeIds, normalize: variant.normalize, ...(variant.head ? { head } : {}) };
    const model = buildBertOnnx(cfg, weights, opts);
    assert.equal(model.graph.outputs[0]!.name, variant.head ? "output" : "last_hidden_state");
    assert.deepEqual(model.graph.inputs.map((i) => i.name), ["input_ids", "attention_mask", ...(variant.tokenTypeIds ? ["token_type_ids"] : [])]);
    const dim = variant.head ? headDim : cfg.hiddenSize;
    const { data, dims } = await run(encodeModel(model), variant.tokenTypeIds);
    assert.deepEqual(dims, [3, 10, dim]);
    const ref = bertForward(cfg, weights, variant.tokenTypeIds ? batch : { ...batch, tokenTypeIds: undefined }, opts);
    const diff = maxDiff(data, ref, dim);
    assert.ok(diff < 1e-4, `max diff ${diff}`);
    if (variant.normalize) {
      for (let t = 0; t < data.length / dim; t++) {
        const norm = Math.hypot(...data.subarray(t * dim, (t + 1) * dim));
        assert.ok(Math.abs(norm - 1) < 1e-5, `token ${t} norm ${norm}`);
      }
    }
  });
}

test("fused graph (com.microsoft Attention, SkipLayerNormalization, BiasGelu) == plain graph (1e-5) and the reference, with and without token types", async () => {
  for (const tokenTypeIds of [true, false]) {
    const opts = { tokenTypeIds, head, normalize: true };
    const fusedModel = buildBertOnnx(cfg, weights, { ...opts, fused: true });
    const ops = new Set(fusedModel.graph.nodes.map((n) => n.opType));
    for (const op of ["Attention", "SkipLayerNormalization", "BiasGelu"]) assert.ok(ops.has(op), `${op} in the fused graph`);
    assert.ok(!ops.has("Softmax") && !ops.has("Erf"), "no plain attention or GELU left");
    const plain = (await run(encodeModel(buildBertOnnx(cfg, weights, opts)), tokenTypeIds)).data;
    const fused = (await run(encodeModel(fusedModel), tokenTypeIds)).data;
    const ref = bertForward(cfg, weights, tokenTypeIds ? batch : { ...batch, tokenTypeIds: undefined }, opts);
    assert.ok(maxDiff(fused, ref, headDim) < 1e-4, "fused vs reference");
    let worst = 0;
    const seq = batch.inputIds[0]!.length;
    batch.attentionMask.forEach((row, b) =>
      row.forEach((m, t) => {
        if (!m) return;
        for (let d = 0; d < headDim; d++) worst = Math.max(worst, Math.abs(fused[(b * seq + t) * headDim + d]! - plain[(b * seq + t) * headDim + d]!));
      }),
    );
    assert.ok(worst < 1e-5, `fused vs plain: max diff ${worst}`);
  }
});

test("fused is ignored with int8 quantization (no contrib attention over int8 weights)", () => {
  const model = buildBertOnnx(cfg, weights, { head, quantize: "int8", fused: true });
  assert.ok(!model.graph.nodes.some((n) => n.opType === "Attention"));
  assert.ok(model.graph.nodes.some((n) => n.opType === "MatMulInteger"));
});

test("token types matter: ignoring them changes the reference output", () => {
  const a = bertForward(cfg, weights, batch)[0]!;
  const b = bertForward(cfg, weights, { ...batch, tokenTypeIds: undefined })[0]!;
  assert.ok(a.some((v, i) => Math.abs(v - b[i]!) > 1e-3));
});

test("int8 dynamic quantization: close to fp32 and smaller", async () => {
  const fp32 = encodeModel(buildBertOnnx(cfg, weights, { head }));
  const int8Model = buildBertOnnx(cfg, weights, { head, quantize: "int8" });
  const int8 = encodeModel(int8Model);
  assert.ok(int8Model.graph.nodes.some((n) => n.opType === "MatMulInteger"));
  assert.ok(!int8Model.graph.nodes.some((n) => n.opType === "MatMul" && n.inputs.some((i) => i.endsWith(".weight_t"))));
  assert.ok(int8.length < fp32.length * 0.75, `${int8.length} vs ${fp32.length}`);
  const a = (await run(fp32, true)).data;
  const b = (await run(int8, true)).data;
  let sum = 0;
  let count = 0;
  for (let t = 0; t < a.length / headDim; t++) {
    const x = a.subarray(t * headDim, (t + 1) * headDim);
    const y = b.subarray(t * headDim, (t + 1) * headDim);
    let dot = 0;
    for (let i = 0; i < headDim; i++) dot += x[i]! * y[i]!;
    sum += dot / (Math.hypot(...x) * Math.hypot(...y));
    count++;
  }
  assert.ok(sum / count > 0.99, `mean cosine ${sum / count}`);
});

test("symmetric int8 weight quantization: scale = max|w| / 127, round half to even", () => {
  const { q, scale } = quantizeInt8Symmetric(new Float32Array([254, 5, 3, -5, 0.8, 0, -254]));
  assert.equal(scale, 2);
  assert.deepEqual([...q], [127, 2, 2, -2, 0, 0, -127]);
  assert.deepEqual([...quantizeInt8Symmetric(new Float32Array(3)).q], [0, 0, 0]);
});

test("external data: small .onnx, aligned side file, same outputs as inline", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-"));
  try {
    const model = buildBertOnnx(cfg, weights, { head, normalize: true });
    const inline = path.join(dir, "inline.onnx");
    const split = path.join(dir, "model.onnx");
    await writeOnnxModel(inline, model);
    const res = await writeOnnxModel(split, model, { externalData: { fileName: "model.onnx.data", minBytes: 1024 } });
    assert.deepEqual(fs.readdirSync(dir).sort(), ["inline.onnx", "model.onnx", "model.onnx.data"]);
    assert.equal(res.modelBytes, fs.statSync(split).size);
    assert.equal(res.externalBytes, fs.statSync(path.join(dir, "model.onnx.data")).size);
    assert.ok(res.modelBytes < 20_000 && fs.statSync(inline).size > 80_000, `${res.modelBytes} / ${fs.statSync(inline).size}`);
    const data = fs.readFileSync(path.join(dir, "model.onnx.data"));
    assert.ok(res.external.length > 5);
    for (const e of res.external) {
      assert.equal(e.offset % 4096, 0);
      const t = model.graph.initializers.find((i) => i.name === e.name)!;
      assert.ok(t.data && t.data.byteLength >= 1024);
      assert.deepEqual(data.subarray(e.offset, e.offset + e.length), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    assert.ok(model.graph.initializers.every((t) => t.data !== undefined && t.external === undefined), "model not mutated");
    const a = await run(inline, true);
    const b = await run(split, true);
    assert.deepEqual(b.dims, a.dims);
    a.data.forEach((v, i) => assert.ok(Math.abs(v - b.data[i]!) <= 1e-6));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("same seed -> identical bytes; different seed -> different", () => {
  const bytes = (seed: number, m?: (w: ReturnType<typeof randomBertWeights>) => OnnxModel): Uint8Array => {
    const w = randomBertWeights(cfg, seed);
    return encodeModel(m ? m(w) : buildBertOnnx(cfg, w, { head, normalize: true }));
  };
  assert.deepEqual(bytes(1), bytes(1));
  assert.notDeepEqual(bytes(1), bytes(2));
  const q = (w: ReturnType<typeof randomBertWeights>): OnnxModel => buildBertOnnx(cfg, w, { quantize: "int8" });
  assert.deepEqual(bytes(3, q), bytes(3, q));
});

test("HF config.json round trip and validation", () => {
  const hf = bertConfigToHf(cfg);
  assert.equal(hf["model_type"], "bert");
  assert.deepEqual(hf["architectures"], ["BertModel"]);
  assert.equal(hf["hidden_act"], "gelu");
  assert.deepEqual(bertConfigFromHf(JSON.parse(JSON.stringify(hf))), cfg);
  const bad = (json: unknown): void =>
    assert.throws(() => bertConfigFromHf(json), (e: unknown) => isColtsError(e, "CONFIG_INVALID"));
  bad(null);
  bad({ ...hf, hidden_size: undefined });
  bad({ ...hf, num_attention_heads: 5 });
  bad({ ...hf, hidden_act: "relu" });
  assert.throws(() => buildBertOnnx(cfg, new Map()), (e: unknown) => isColtsError(e, "CONFIG_INVALID"));
});

test("XLM-R config.json: RoBERTa padding idx from pad_token_id, XLM-R defaults, round trip, validation", () => {
  const xlmr: BertConfig = { ...cfg, typeVocabSize: 1, layerNormEps: 1e-5, roberta: { paddingIdx: 1 } };
  const hf = bertConfigToHf(xlmr);
  assert.deepEqual([hf["model_type"], hf["architectures"], hf["pad_token_id"], hf["bos_token_id"], hf["eos_token_id"]], ["xlm-roberta", ["XLMRobertaModel"], 1, 0, 2]);
  assert.deepEqual(bertConfigFromHf(JSON.parse(JSON.stringify(hf))), xlmr);
  // Without type_vocab_size, layer_norm_eps and pad_token_id: XLM-R's 1, 1e-5 and 1.
  assert.deepEqual(bertConfigFromHf({ ...hf, type_vocab_size: undefined, layer_norm_eps: undefined, pad_token_id: undefined }), xlmr);
  assert.equal(bertConfigFromHf({ ...hf, model_type: "bert" }).roberta, undefined);
  assert.throws(() => bertConfigFromHf({ ...hf, pad_token_id: -1 }), (e: unknown) => isColtsError(e, "CONFIG_INVALID"));
  assert.throws(() => bertConfigFromHf({ ...hf, pad_token_id: hf["max_position_embeddings"] }), (e: unknown) => isColtsError(e, "CONFIG_INVALID"));
});
