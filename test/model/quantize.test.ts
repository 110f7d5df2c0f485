/** int8 quantization of existing graphs (quantizeGraphInt8) and of model folders (quantizeModel). */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { ColBERT } from "../../src/encode/colbert.js";
import { quantizeGraphInt8 } from "../../src/model/quantize-graph.js";
import { quantizeModel } from "../../src/model/quantize.js";
import { readModelFolder } from "../../src/model/layout.js";
import { GraphBuilder } from "../../src/runtime/onnx/builder.js";
import { DataType, encodeModel, ProtoWriter, type OnnxModel } from "../../src/runtime/onnx/proto.js";
import { readOnnxModel } from "../../src/runtime/onnx/read.js";
import { writeOnnxModel } from "../../src/runtime/onnx/write.js";
import { isColtsError } from "../../src/errors.js";
import { Rng } from "../../src/util/rng.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir, tempDir } from "../helpers/paths.js";

const int64 = (rows: number[][]): ort.Tensor => new ort.Tensor("int64", BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0]!.length]);

/** 3 sequences of lengths 9, 5, 12 padded to 12; ids from the bert-base-uncased vocabulary range. */
function bertFeeds(withTypes: boolean): Record<string, ort.Tensor> {
  const rng = new Rng(11);
  const lengths = [9, 5, 12];
  const ids = lengths.map((n) => Array.from({ length: 12 }, (_, i) => (i === 0 ? 101 : i < n - 1 ? 1000 + rng.int(20000) : i === n - 1 ? 102 : 0)));
  const mask = lengths.map((n) => Array.from({ length: 12 }, (_, i) => (i < n ? 1 : 0)));
  const feeds: Record<string, ort.Tensor> = { input_ids: int64(ids), attention_mask: int64(mask) };
  if (withTypes) feeds["token_type_ids"] = int64(ids.map((r) => r.map(() => 0)));
  return feeds;
}

/** Runs a graph (file or model) on `feeds`; returns its first output. */
async function run(model: string | OnnxModel, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = typeof model === "string" ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(encodeModel(model));
  const wanted = Object.fromEntries(Object.entries(feeds).filter(([k]) => session.inputNames.includes(k)));
  const out = await session.run(wanted);
  const data = out[session.outputNames[0]!]!.data as Float32Array;
  await session.release();
  return data;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function opCounts(model: OnnxModel): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of model.graph.nodes) m.set(n.opType, (m.get(n.opType) ?? 0) + 1);
  return m;
}

describe("quantizeGraphInt8: a one-MatMul graph, by hand", () => {
  // y = x @ W, x: [1, 2], W = [[1, -2], [0.5, 4]].
  const g = new GraphBuilder({ name: "one", opset: 17 });
  const x = g.input("x", DataType.FLOAT, [1, 2]);
  g.output("y", DataType.FLOAT, [1, 2], g.matMul(x, g.initializer("W", Float32Array.of(1, -2, 0.5, 4), [2, 2])));
  const fp32 = g.toModel();

  test("weights: scale = max|W| / 127, W_q = round-half-even(W / scale), zero point 0", () => {
    const q = quantizeGraphInt8(fp32).model;
    const init = new Map(q.graph.initializers.map((t) => [t.name, t]));
    // 4 / 127 -> W / scale = [31.75, -63.5, 15.875, 127]: -63.5 rounds to the even -64.
    assert.deepEqual(Array.from(init.get("W_quantized")!.data as Int8Array), [32, -64, 16, 127]);
    assert.equal((init.get("W_scale")!.data as Float32Array)[0], Math.fround(4 / 127));
    assert.deepEqual(Array.from(init.get("W_zero_point")!.data as Int8Array), [0]);
    assert.ok(!init.has("W"), "the float weight nobody reads any more is gone");
    assert.deepEqual(q.graph.nodes.map((n) => n.opType), ["DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul"]);
    assert.deepEqual(q.graph.outputs, fp32.graph.outputs);
  });

  test("output: x = [1, 3] -> x_q = [85, 255] (scale 3/255, zero point 0) -> [6800, 26945] * (3/255 * 4/127)", async () => {
    const q = quantizeGraphInt8(fp32).model;
    const y = await run(q, { x: new ort.Tensor("float32", Float32Array.of(1, 3), [1, 2]) });
    // 85*32 + 255*16 = 6800; 85*(-64) + 255*127 = 26945. The runtime multiplies in float32.
    const scale = Math.fround(Math.fround(3 / 255) * Math.fround(4 / 127));
    const expected = [Math.fround(6800 * scale), Math.fround(26945 * scale)];
    assert.ok(Math.abs(y[0]! - expected[0]!) <= 1e-6 && Math.abs(y[1]! - expected[1]!) <= 1e-6, `${Array.from(y).join(", ")} vs ${expected.join(", ")}`);
    // And near the float result [2.5, 10].
    assert.ok(Math.abs(y[0]! - 2.5) < 0.03 && Math.abs(y[1]! - 10) < 0.03);
  });

  test("refusals: nothing to quantize, opset before 11", () => {
    const h = new GraphBuilder({ opset: 17 });
    const a = h.input("a", DataType.FLOAT, [2, 2]);
    h.output("y", DataType.FLOAT, [2, 2], h.matMul(a, a)); // two activations: stays float, so nothing to do
    assert.throws(() => quantizeGraphInt8(h.toModel()), (e: unknown) => isColtsError(e, "MODEL_NOT_FOUND"));
    assert.throws(() => quantizeGraphInt8({ ...fp32, opsetImports: [{ domain: "", version: 10 }] }), (e: unknown) => isColtsError(e, "ONNX_INVALID"));
    // A weight that is also a graph input can be overridden by the caller: not a constant, so not quantized.
    const asInput = { ...fp32, graph: { ...fp32.graph, inputs: [...fp32.graph.inputs, { name: "W", elemType: DataType.FLOAT, dims: [2, 2] }] } };
    assert.throws(() => quantizeGraphInt8(asInput), (e: unknown) => isColtsError(e, "MODEL_NOT_FOUND") && /also graph inputs/.test((e as Error).message));
  });

  test("a weight shared by two MatMuls is quantized once; an activation read by two MatMuls once; Gemm stays", () => {
    const h = new GraphBuilder({ opset: 17 });
    const a = h.input("a", DataType.FLOAT, [1, 2]);
    const w = h.initializer("W", Float32Array.of(1, 2, 3, 4), [2, 2]);
    const v = h.initializer("V", Float32Array.of(1, 0, 0, 1), [2, 2]);
    const s = h.add(h.matMul(a, w), h.matMul(a, v));
    h.output("y", DataType.FLOAT, [1, 2], h.add(h.matMul(s, w), h.op("Gemm", [a, v])));
    const q = quantizeGraphInt8(h.toModel());
    const counts = opCounts(q.model);
    assert.equal(counts.get("MatMulInteger"), 3);
    assert.equal(counts.get("DynamicQuantizeLinear"), 2, "one for a, one for s");
    assert.equal(counts.get("Gemm"), 1);
    assert.equal(q.gemmLeftFloat, 1);
    const names = q.model.graph.initializers.map((t) => t.name);
    assert.deepEqual(names.filter((n) => n.startsWith("W_quantized")), ["W_quantized"]);
    assert.ok(names.includes("V"), "V is still read by the Gemm, so it stays");
  });
});

describe("quantizeGraphInt8 on generated BERT graphs", () => {
  const root = suiteDir();

  test("rewriting a tiny model's fp32 graph = buildBertOnnx(quantize int8) of the same weights; only weight MatMuls change", async () => {
    // layout onnx with --int8: model.onnx (fp32, head + normalize) and model_int8.onnx (bert-graph's int8).
    const dir = await tinyModel(root, { layout: "onnx", int8: true, hidden: 32, layers: 2, heads: 2, dim: 16 });
    const fp32 = readOnnxModel(path.join(dir, "model.onnx")).model;
    const { model: ours, quantized } = quantizeGraphInt8(fp32);
    const feeds = bertFeeds(true);
    const reference = await run(path.join(dir, "model_int8.onnx"), feeds);
    const rewritten = await run(ours, feeds);
    // Same quantized weights, same activations, same op order: bit-equal here (max diff 0), 1e-6 allowed.
    assert.ok(maxAbsDiff(reference, rewritten) <= 1e-6, `max diff ${maxAbsDiff(reference, rewritten)}`);
    // Node counts: 6 Linear per layer (q, k, v, out, intermediate, output) + the head = 13 weight MatMuls.
    assert.equal(quantized.length, 2 * 6 + 1);
    const before = opCounts(fp32);
    const after = opCounts(ours);
    const n = quantized.length;
    // Per layer 4 quantized activations (x for q/k/v, merged, h, gelu) + the head's input.
    const dql = 2 * 4 + 1;
    assert.equal(after.get("MatMul"), before.get("MatMul")! - n, "attention MatMuls (2 per layer) stay float");
    assert.equal(after.get("MatMul"), 2 * 2);
    assert.equal(after.get("MatMulInteger"), n);
    assert.equal(after.get("DynamicQuantizeLinear"), dql);
    assert.equal(after.get("Cast"), (before.get("Cast") ?? 0) + n);
    assert.equal(after.get("Mul"), (before.get("Mul") ?? 0) + 2 * n);
    for (const [op, count] of before) if (!["MatMul", "Cast", "Mul"].includes(op)) assert.equal(after.get(op), count, op);
    // The nodes that are not new are the original ones, in order, unchanged.
    const added = new Set(["DynamicQuantizeLinear", "MatMulInteger"]);
    const originalKept = fp32.graph.nodes.filter((node) => !(node.opType === "MatMul" && quantized.includes(node.name!)));
    const oursKept = ours.graph.nodes.filter((node) => !added.has(node.opType) && !(node.name ?? "").includes("_quant") && !(node.name ?? "").endsWith("_cast"));
    assert.deepEqual(oursKept, originalKept);
    assert.deepEqual(ours.graph.inputs, fp32.graph.inputs);
    assert.deepEqual(ours.graph.outputs, fp32.graph.outputs);
    assert.deepEqual(ours.opsetImports, fp32.opsetImports);
    // Every non-weight initializer is kept as it was.
    const weightNames = new Set(fp32.graph.initializers.filter((t) => t.name.endsWith(".weight_t")).map((t) => t.name));
    const keptNames = ours.graph.initializers.map((t) => t.name).filter((name) => fp32.graph.initializers.some((t) => t.name === name));
    assert.deepEqual(keptNames, fp32.graph.initializers.map((t) => t.name).filter((name) => !weightNames.has(name)));
  });

  test("int8 vectors are close to fp32: per-token cosine >= 0.999 and mean >= 0.9995 (L2-normalised outputs, hidden 64, 2 layers)", async () => {
    const dir = await tinyModel(root, { layout: "onnx", hidden: 64, layers: 2, heads: 4, dim: 32, seed: 3 });
    const fp32 = readOnnxModel(path.join(dir, "model.onnx")).model;
    const feeds = bertFeeds(true);
    const a = await run(fp32, feeds);
    const b = await run(quantizeGraphInt8(fp32).model, feeds);
    const dim = 32;
    const mask = (feeds["attention_mask"]!.data as BigInt64Array);
    let worst = 1;
    let sum = 0;
    let count = 0;
    for (let t = 0; t < mask.length; t++) {
      if (mask[t] !== 1n) continue;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += a[t * dim + d]! * b[t * dim + d]!;
      worst = Math.min(worst, dot);
      sum += dot;
      count++;
    }
    // Measured: worst 0.99988, mean 0.99994 (seed 3).
    assert.ok(worst >= 0.999, `worst cosine ${worst}`);
    assert.ok(sum / count >= 0.9995, `mean cosine ${sum / count}`);
    assert.ok(worst < 1 - 1e-7, "int8 differs from fp32 at all (the graph really changed)");
  });
});

describe("readOnnxModel", () => {
  test("read then encoded again gives the same bytes (a colts graph); external data is loaded and reported", async (t) => {
    const dir = tempDir(t);
    const model = await tinyModel(dir, { layout: "onnx" });
    const file = path.join(model, "model.onnx");
    const read = readOnnxModel(file);
    assert.equal(read.externalData, false);
    assert.ok(Buffer.from(encodeModel(read.model)).equals(fs.readFileSync(file)));
    const ext = path.join(dir, "ext.onnx");
    await writeOnnxModel(ext, read.model, { externalData: { fileName: "ext.onnx_data", minBytes: 1024 } });
    const back = readOnnxModel(ext);
    assert.equal(back.externalData, true);
    assert.ok(Buffer.from(encodeModel(back.model)).equals(fs.readFileSync(file)), "same model once the data is back inline");
  });

  test("int64 attributes and tensors keep negative values; a missing file is MODEL_NOT_FOUND", async (t) => {
    const dir = tempDir(t);
    const g = new GraphBuilder({ opset: 17 });
    const x = g.input("x", DataType.FLOAT, ["n", 4]);
    g.output("y", DataType.FLOAT, ["n", 2, 2], g.reshape(g.softmax(x, -1), [-1, 2, 2]));
    const file = path.join(dir, "m.onnx");
    await writeOnnxModel(file, g.toModel({ docString: "d", metadata: { k: "v" } }));
    const back = readOnnxModel(file).model;
    assert.deepEqual(back.graph.nodes[0]!.attributes, [{ name: "axis", type: "int", value: -1 }]);
    assert.deepEqual(Array.from(back.graph.initializers[0]!.data as BigInt64Array), [-1n, 2n, 2n]);
    assert.deepEqual(back.metadata, { k: "v" });
    assert.ok(Buffer.from(encodeModel(back)).equals(fs.readFileSync(file)));
    assert.throws(() => readOnnxModel(path.join(dir, "none.onnx")), (e: unknown) => isColtsError(e, "MODEL_NOT_FOUND"));
  });
});

describe("a graph as other exporters write it (typed repeated fields, Constant nodes, unnamed nodes)", () => {
  /** y = Reshape(x @ W, shape), W in float_data (packed), shape an int64 Constant in int64_data; no node names. */
  function foreignModel(): Uint8Array {
    const tensor = (name: string, dims: number[], type: number, fill: (w: ProtoWriter) => void): ProtoWriter => {
      const t = new ProtoWriter();
      for (const d of dims) t.intField(1, d);
      t.intField(2, type);
      fill(t);
      return t.stringField(8, name);
    };
    const valueInfo = (name: string, dims: number[]): ProtoWriter => {
      const shape = new ProtoWriter();
      for (const d of dims) shape.messageField(1, new ProtoWriter().intField(1, d));
      return new ProtoWriter().stringField(1, name).messageField(2, new ProtoWriter().messageField(1, new ProtoWriter().intField(1, DataType.FLOAT).messageField(2, shape)));
    };
    const constant = new ProtoWriter()
      .stringField(2, "shape")
      .stringField(4, "Constant")
      .messageField(5, new ProtoWriter().stringField(1, "value").messageField(5, tensor("", [2], DataType.INT64, (w) => w.packedVarints(7, [-1, 1]))).intField(20, 4));
    const matmul = new ProtoWriter().stringField(1, "x").stringField(1, "W").stringField(2, "xw").stringField(4, "MatMul");
    const reshape = new ProtoWriter().stringField(1, "xw").stringField(1, "shape").stringField(2, "y").stringField(4, "Reshape");
    const graph = new ProtoWriter()
      .messageField(1, constant)
      .messageField(1, matmul)
      .messageField(1, reshape)
      .stringField(2, "foreign")
      .messageField(5, tensor("W", [2, 2], DataType.FLOAT, (w) => w.packedFloats(4, [1, -2, 0.5, 4])))
      .messageField(11, valueInfo("x", [1, 2]))
      .messageField(12, valueInfo("y", [2, 1]));
    return new ProtoWriter().intField(1, 8).stringField(2, "pytorch").messageField(7, graph).messageField(8, new ProtoWriter().stringField(1, "").intField(2, 14)).finish();
  }

  test("read, quantized, run: same result as the colts-built one-MatMul graph, reshaped", async (t) => {
    const file = path.join(tempDir(t), "foreign.onnx");
    fs.writeFileSync(file, foreignModel());
    const { model } = readOnnxModel(file);
    assert.deepEqual(Array.from(model.graph.initializers[0]!.data as Float32Array), [1, -2, 0.5, 4]);
    const value = model.graph.nodes[0]!.attributes![0]!;
    assert.ok(value.type === "tensor");
    assert.deepEqual(Array.from(value.value.data as BigInt64Array), [-1n, 1n]);
    const fp32 = await run(model, { x: new ort.Tensor("float32", Float32Array.of(1, 3), [1, 2]) });
    assert.deepEqual(Array.from(fp32), [2.5, 10]);
    const q = quantizeGraphInt8(model);
    assert.deepEqual(q.quantized, ["xw"], "an unnamed MatMul is named by its output");
    const y = await run(q.model, { x: new ort.Tensor("float32", Float32Array.of(1, 3), [1, 2]) });
    const scale = Math.fround(Math.fround(3 / 255) * Math.fround(4 / 127));
    assert.ok(Math.abs(y[0]! - Math.fround(6800 * scale)) <= 1e-6 && Math.abs(y[1]! - Math.fround(26945 * scale)) <= 1e-6);
    assert.deepEqual(q.model.opsetImports, [{ domain: "", version: 14 }]);
    assert.equal(q.model.producerName, "pytorch");
  });
});

describe("quantizeModel (folders)", () => {
  const root = suiteDir();

  test("pylate folder: fp32 graph and files copied, model_int8.onnx picked with quantized, fp32 without", async (t) => {
    const src = await tinyModel(root, { layout: "pylate", int8: true });
    const out = path.join(tempDir(t), "q");
    const r = await quantizeModel(src, out);
    assert.equal(r.source, "onnx");
    assert.equal(r.sourceFile, "onnx/model.onnx");
    assert.ok(r.files.includes("model_int8.onnx") && r.files.includes("onnx/model.onnx") && r.files.includes("1_Dense/model.safetensors"));
    assert.ok(!r.files.includes("onnx/model_quantized.onnx"), "the source's own int8 graph is not copied");
    assert.equal(readModelFolder(out, { quantized: true }).onnxPath, path.join(out, "model_int8.onnx"));
    assert.equal(readModelFolder(out).onnxPath, path.join(out, "onnx/model.onnx"));
    // The source's int8 graph (bert-graph.ts) and the rewrite agree.
    const feeds = bertFeeds(true);
    assert.ok(maxAbsDiff(await run(path.join(src, "onnx/model_quantized.onnx"), feeds), await run(path.join(out, "model_int8.onnx"), feeds)) <= 1e-6);
  });

  test("a graph with external data gives an int8 graph with external data, same outputs as from the inline graph", async (t) => {
    const src = await tinyModel(root, { layout: "onnx" });
    const ext = path.join(tempDir(t), "ext");
    fs.cpSync(src, ext, { recursive: true });
    fs.rmSync(path.join(ext, "model.onnx"));
    await writeOnnxModel(path.join(ext, "model.onnx"), readOnnxModel(path.join(src, "model.onnx")).model, { externalData: { fileName: "model.onnx_data", minBytes: 1024 } });
    const out = path.join(tempDir(t), "q");
    const r = await quantizeModel(ext, out);
    assert.ok(r.files.includes("model_int8.onnx_data") && r.files.includes("model.onnx_data"), r.files.join(", "));
    assert.equal(readOnnxModel(path.join(out, "model_int8.onnx")).externalData, true);
    const inline = path.join(tempDir(t), "q-inline");
    await quantizeModel(src, inline);
    const feeds = bertFeeds(true);
    assert.equal(maxAbsDiff(await run(path.join(out, "model_int8.onnx"), feeds), await run(path.join(inline, "model_int8.onnx"), feeds)), 0);
  });

  test("safetensors only: built int8 from the backbone, the same graph bert-graph.ts writes", async (t) => {
    const src = await tinyModel(root, { layout: "pylate", int8: true });
    const copy = path.join(tempDir(t), "src");
    fs.cpSync(src, copy, { recursive: true });
    const reference = readOnnxModel(path.join(copy, "onnx/model_quantized.onnx")).model;
    fs.rmSync(path.join(copy, "onnx"), { recursive: true });
    const out = path.join(tempDir(t), "q");
    const r = await quantizeModel(copy, out, { int8Only: true });
    assert.equal(r.source, "safetensors");
    assert.ok(!r.files.includes("model.safetensors"), "int8Only leaves the backbone out");
    const built = readOnnxModel(path.join(out, "model_int8.onnx")).model;
    assert.deepEqual({ ...built, producerName: "" }, { ...reference, producerName: "" });
  });

  test("loading with quantized: a safetensors-only folder runs the int8 graph built on load; an fp32-only ONNX folder is refused with the way out", async (t) => {
    const src = await tinyModel(root, { layout: "pylate", int8: true });
    const copy = path.join(tempDir(t), "st-only");
    fs.cpSync(src, copy, { recursive: true });
    fs.rmSync(path.join(copy, "onnx"), { recursive: true });
    const texts = ["an int8 graph built from safetensors on load", "second document"];
    const encode = async (dir: string, quantized: boolean): Promise<Float32Array[]> => {
      const m = await ColBERT.load(dir, { workers: 0, quantized });
      try {
        return (await m.encodeDocuments(texts)).map((v) => v.vectors);
      } finally {
        await m.close();
      }
    };
    const [onLoad, exported, fp32] = [await encode(copy, true), await encode(src, true), await encode(copy, false)];
    // The same graph as the one `colts model tiny --int8` wrote: the same vectors.
    onLoad.forEach((v, i) => assert.equal(maxAbsDiff(v, exported[i] as Float32Array), 0));
    assert.ok(onLoad.some((v, i) => maxAbsDiff(v, fp32[i] as Float32Array) > 0), "int8 differs from fp32");
    const onnxOnly = await tinyModel(root, { layout: "onnx" });
    assert.throws(() => readModelFolder(onnxOnly, { quantized: true }), (e: unknown) => isColtsError(e, "MODEL_NOT_FOUND") && /no int8 graph.*colts model quantize/.test((e as Error).message));
  });

  test("errors: no folder, nothing to quantize, output exists (overwrite replaces it), output inside the model", async (t) => {
    const base = tempDir(t);
    const code = (c: string) => (e: unknown) => isColtsError(e, c as never);
    await assert.rejects(quantizeModel(path.join(base, "none"), path.join(base, "o")), code("MODEL_NOT_FOUND"));
    const src = await tinyModel(root, { layout: "stanford", int8: true });
    const onlyInt8 = path.join(base, "only-int8");
    fs.cpSync(src, onlyInt8, { recursive: true });
    fs.rmSync(path.join(onlyInt8, "model.onnx"));
    fs.rmSync(path.join(onlyInt8, "model.safetensors"));
    await assert.rejects(quantizeModel(onlyInt8, path.join(base, "o")), (e: unknown) => isColtsError(e, "MODEL_NOT_FOUND") && /only an int8 graph/.test((e as Error).message));
    const out = path.join(base, "out");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "keep.txt"), "x");
    await assert.rejects(quantizeModel(src, out), code("INPUT_INVALID"));
    assert.ok(fs.existsSync(path.join(out, "keep.txt")), "a refused run leaves the folder alone");
    const r = await quantizeModel(src, out, { overwrite: true, int8Only: true });
    assert.ok(!fs.existsSync(path.join(out, "keep.txt")));
    assert.ok(r.files.includes("model.safetensors"), "a Stanford head lives in model.safetensors: kept with int8Only");
    assert.ok(!r.files.includes("model.onnx"));
    await assert.rejects(quantizeModel(src, path.join(src, "inside")), code("INPUT_INVALID"));
    assert.deepEqual(fs.readdirSync(base).sort(), ["only-int8", "out"], "no temp folders left behind");
  });
});
