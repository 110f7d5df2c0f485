import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../../src/runtime/onnx/builder.js";
import { attr, DataType, encodeModel, encodeTensor, ProtoWriter, type OnnxModel } from "../../src/runtime/onnx/proto.js";
import { readOnnxFloatInitializers } from "../../src/runtime/onnx/read.js";
import { writeOnnxModel } from "../../src/runtime/onnx/write.js";
import { isColtsError } from "../../src/errors.js";

const bytes = (w: ProtoWriter): number[] => [...w.finish()];

test("varints: 1, 300, 2^35 and negative int64 as 10 bytes", () => {
  assert.deepEqual(bytes(new ProtoWriter().varint(1)), [0x01]);
  assert.deepEqual(bytes(new ProtoWriter().varint(300)), [0xac, 0x02]);
  assert.deepEqual(bytes(new ProtoWriter().varint(2 ** 35)), [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  assert.deepEqual(bytes(new ProtoWriter().varint(-1)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.deepEqual(bytes(new ProtoWriter().varint(-1n)), bytes(new ProtoWriter().varint(-1)));
  assert.deepEqual(bytes(new ProtoWriter().varint(2n ** 63n - 1n)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  assert.throws(() => new ProtoWriter().varint(0.5), RangeError);
});

test("fields: tag, fixed32 float, length-delimited, packed", () => {
  assert.deepEqual(bytes(new ProtoWriter().intField(1, 150)), [0x08, 0x96, 0x01]);
  assert.deepEqual(bytes(new ProtoWriter().floatField(2, 1)), [0x15, 0x00, 0x00, 0x80, 0x3f]);
  assert.deepEqual(bytes(new ProtoWriter().stringField(2, "testing")), [0x12, 0x07, ...Buffer.from("testing")]);
  assert.deepEqual(bytes(new ProtoWriter().packedVarints(4, [3, 270, 86942])), [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
  assert.deepEqual(bytes(new ProtoWriter().packedFloats(7, [1, -2])), [0x3a, 0x08, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
  // Field 20 (AttributeProto.type) needs a two-byte tag.
  assert.deepEqual(bytes(new ProtoWriter().intField(20, 7)), [0xa0, 0x01, 0x07]);
  const inner = new ProtoWriter().intField(1, 150);
  assert.deepEqual(bytes(new ProtoWriter().messageField(3, inner)), [0x1a, 0x03, 0x08, 0x96, 0x01]);
});

test("large payloads are kept as chunks and reassembled in order", () => {
  const big = new Uint8Array(10000).map((_, i) => i % 251);
  const w = new ProtoWriter().intField(1, 5).bytesField(2, big).intField(3, 7);
  const out = w.finish();
  assert.equal(out.length, 2 + 3 + 10000 + 2);
  assert.deepEqual([...out.subarray(0, 5)], [0x08, 0x05, 0x12, 0x90, 0x4e]);
  assert.deepEqual(out.subarray(5, 10005), big);
  assert.deepEqual([...out.subarray(10005)], [0x18, 0x07]);
});

test("TensorProto: dims, data_type, name, little-endian raw_data", () => {
  const t = encodeTensor({ name: "w", dataType: DataType.FLOAT, dims: [2], data: new Float32Array([1, 2]) });
  assert.deepEqual([...t], [0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77, 0x4a, 0x08, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
  const e = encodeTensor({ name: "x", dataType: DataType.INT8, dims: [3], external: { location: "d", offset: 4096, length: 3 } });
  const text = Buffer.from(e).toString("latin1");
  for (const s of ["location", "offset", "4096", "length"]) assert.ok(text.includes(s), s);
  assert.deepEqual([...e.subarray(e.length - 2)], [0x70, 0x01]); // data_location = EXTERNAL
  assert.throws(
    () => encodeTensor({ name: "bad", dataType: DataType.INT64, dims: [1], data: new Int32Array(1) }),
    (err: unknown) => isColtsError(err, "ONNX_INVALID"),
  );
  assert.throws(() => encodeTensor({ name: "bad", dataType: DataType.FLOAT, dims: [3], data: new Float32Array(2) }), /dims/);
});

function addModel(): OnnxModel {
  return {
    irVersion: 8,
    opsetImports: [{ domain: "", version: 17 }],
    producerName: "colts-test",
    graph: {
      name: "add",
      nodes: [{ opType: "Add", inputs: ["a", "b"], outputs: ["c"], name: "add0" }],
      initializers: [{ name: "b", dataType: DataType.FLOAT, dims: [3], data: new Float32Array([10, 20, 30]) }],
      inputs: [{ name: "a", elemType: DataType.FLOAT, dims: ["n", 3] }],
      outputs: [{ name: "c", elemType: DataType.FLOAT, dims: ["n", 3] }],
    },
    metadata: { purpose: "test" },
  };
}

test("a hand-written ModelProto with one Add node runs in onnxruntime", async () => {
  const session = await ort.InferenceSession.create(encodeModel(addModel()));
  const out = await session.run({ a: new ort.Tensor("float32", new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]) });
  assert.deepEqual([...(out["c"]!.data as Float32Array)], [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(out["c"]!.dims, [2, 3]);
  assert.deepEqual(encodeModel(addModel()), encodeModel(addModel()));
});

test("GraphBuilder: helpers, attributes, int64 constants, renamed outputs, write to disk", async () => {
  const g = new GraphBuilder({ name: "ops" });
  const x = g.input("x", DataType.FLOAT, ["batch", 4]);
  const t = g.transpose(g.reshape(x, [0, 2, 2]), [0, 2, 1]); // [batch, 2, 2]
  const s = g.softmax(g.mul(t, g.floats([2], [])), -1);
  const n = g.div(s, g.max(g.reduceL2(s, [-1]), g.floats([1e-12], [])));
  const flat = g.reshape(n, [0, -1]);
  const cols = g.slice(flat, [1], [3], [1]); // [batch, 2]
  const viaOp = g.op("Gemm", [cols, g.floats([1, 0, 0, 1], [2, 2])], { alpha: attr.float(3), transB: attr.int(1) });
  g.output("y", DataType.FLOAT, ["batch", 2], viaOp);
  g.output("x_copy", DataType.FLOAT, ["batch", 4], x); // an input cannot be renamed: Identity
  const model = g.toModel({ producer: "test", metadata: { k: "v" } });
  assert.equal(model.irVersion, 8);
  assert.deepEqual(model.opsetImports, [{ domain: "", version: 17 }]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-"));
  try {
    const file = path.join(dir, "ops.onnx");
    const res = await writeOnnxModel(file, model);
    assert.equal(res.modelBytes, fs.statSync(file).size);
    assert.deepEqual(fs.readdirSync(dir), ["ops.onnx"]); // no temp files left
    const session = await ort.InferenceSession.create(file);
    const input = new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]);
    const out = await session.run({ x: new ort.Tensor("float32", input, [2, 4]) });
    // Reference: row [a b c d] -> pairs (a,c), (b,d) after transpose; softmax(2*pair); L2-normalise; cols 1..2.
    const expectRow = (r: number[]): number[] => {
      const pairs = [[r[0]!, r[2]!], [r[1]!, r[3]!]];
      const norm = pairs.map((p) => {
        const e = p.map((v) => Math.exp(2 * v));
        const sm = e.map((v) => v / (e[0]! + e[1]!));
        const l2 = Math.hypot(...sm);
        return sm.map((v) => v / l2);
      });
      return [norm[0]![1]! * 3, norm[1]![0]! * 3];
    };
    const want = [...expectRow([1, 2, 3, 4]), ...expectRow([0, 0, 0, 0])];
    const got = [...(out["y"]!.data as Float32Array)];
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5, `${v} vs ${want[i]}`));
    assert.deepEqual([...(out["x_copy"]!.data as Float32Array)], [...input]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("GraphBuilder: DynamicQuantizeLinear + MatMulInteger approximate MatMul", async () => {
  const g = new GraphBuilder();
  const x = g.input("x", DataType.FLOAT, [2, 3]);
  const [xq, scale, zp] = g.dynamicQuantizeLinear(x);
  const w = g.initializer("w", new Int8Array([1, 0, 0, 1, 1, 1]), [3, 2]);
  const y = g.mul(g.cast(g.matMulInteger(xq, w, zp, g.initializer("wzp", new Int8Array([0]), [])), DataType.FLOAT), scale);
  g.output("y", DataType.FLOAT, [2, 2], y);
  const session = await ort.InferenceSession.create(encodeModel(g.toModel()));
  const out = await session.run({ x: new ort.Tensor("float32", new Float32Array([0.5, -1, 2, 1, 1, 1]), [2, 3]) });
  const want = [2.5, 1, 2, 2];
  [...(out["y"]!.data as Float32Array)].forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 0.03, `${v} vs ${want[i]}`));
});

test("writeOnnxModel rejects external data names with a path", async () => {
  await assert.rejects(
    writeOnnxModel(path.join(os.tmpdir(), "never.onnx"), addModel(), { externalData: { fileName: "../x.data", minBytes: 0 } }),
    (err: unknown) => isColtsError(err, "INPUT_INVALID"),
  );
});

test("readOnnxFloatInitializers reads back the float initializers written inline and as external data, and skips others", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const g = new GraphBuilder({ name: "weights" });
  const big = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) * 1e3);
  const w = g.initializer("w", big, [1000, 3]);
  const b = g.floats([0.5, -0.25, 3.75], [3], "b");
  const axis = g.int64s([1], [1], "axis");
  g.output("y", DataType.FLOAT, ["n", 3], g.add(g.matMul(g.input("x", DataType.FLOAT, ["n", 1000]), w), b));
  g.output("z", DataType.INT64, [1], g.op("Identity", [axis]));
  const model = g.toModel();
  for (const options of [{}, { externalData: { fileName: "weights.data", minBytes: 1024 } }]) {
    const file = path.join(dir, `m${Object.keys(options).length}.onnx`);
    const res = await writeOnnxModel(file, model, options);
    assert.equal(res.external.length, Object.keys(options).length, "the large tensor went to the data file when asked");
    const read = readOnnxFloatInitializers(file);
    assert.deepEqual([...read.keys()].sort(), ["b", "w"]);
    assert.deepEqual(read.get("w")?.dims, [1000, 3]);
    assert.deepEqual(read.get("w")?.data, big);
    assert.deepEqual(read.get("b"), { dims: [3], data: new Float32Array([0.5, -0.25, 3.75]) });
  }
  // float_data and packed dims, as other serializers write them: a TensorProto built by hand.
  const tensor = new ProtoWriter().packedVarints(1, [2, 1]).intField(2, DataType.FLOAT).packedFloats(4, [7, -8]).stringField(8, "f");
  const hand = new ProtoWriter().intField(1, 8).messageField(7, new ProtoWriter().messageField(5, tensor));
  fs.writeFileSync(path.join(dir, "hand.onnx"), hand.finish());
  assert.deepEqual(readOnnxFloatInitializers(path.join(dir, "hand.onnx")).get("f"), { dims: [2, 1], data: new Float32Array([7, -8]) });
  fs.writeFileSync(path.join(dir, "cut.onnx"), fs.readFileSync(path.join(dir, "m0.onnx")).subarray(0, 2000));
  assert.throws(() => readOnnxFloatInitializers(path.join(dir, "cut.onnx")), (e: unknown) => isColtsError(e, "ONNX_INVALID"));
});
