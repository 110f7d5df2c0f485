/**
 * Every VJP rule of the differentiable graph against central finite differences, in float64 graphs
 * run by onnxruntime: a loss L = Σ f(params) ⊙ R (R random) is built once; its analytic gradient
 * comes out of the same run; each parameter element is then nudged by ±eps and L re-run.
 * Tolerance: |analytic − numeric| <= tol · (|analytic| + |numeric|) + atol, per element.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { dedupIds, DiffGraph, type Value } from "../../src/runtime/autodiff/diff-graph.js";
import { DataType, encodeModel } from "../../src/runtime/onnx/proto.js";
import { OnnxSession, type InputTensor } from "../../src/runtime/session.js";
import { Rng } from "../../src/util/rng.js";

const D = DataType.DOUBLE;

interface Check {
  /** Tensors fed by name: float64 parameters / inputs, int64 ids. */
  feeds: Record<string, InputTensor>;
  /** Relative tolerance. Default 1e-6. */
  tol?: number;
  /** Absolute tolerance. Default 1e-9. */
  atol?: number;
  /** Finite-difference step. Default 1e-5. */
  eps?: number;
}

function randoms(rng: Rng, n: number, scale = 1, offset = 0): Float64Array {
  return Float64Array.from({ length: n }, () => offset + scale * rng.normal());
}

/** Σ y ⊙ R over every axis, R a fixed random constant of y's (static, numeric) shape. */
function weightedSum(dg: DiffGraph, y: Value, rng: Rng): Value {
  const dims = y.shape as number[];
  const r = dg.constant(randoms(rng, dims.reduce((a, b) => a * b, 1)), dims, "r");
  return dg.reduceSum(dg.mul(y, r), dims.map((_, i) => i), false);
}

/** Builds the graph, runs the analytic gradients and compares them with central differences. */
async function gradCheck(build: (dg: DiffGraph, rng: Rng) => { loss: Value; params: Value[] }, check: Check): Promise<{ analytic: Float64Array[] }> {
  const rng = new Rng(7);
  const dg = new DiffGraph({ dtype: D });
  const { loss, params } = build(dg, rng);
  const grads = dg.gradientsOf(loss, params);
  dg.output("loss", loss);
  grads.forEach((g, i) => dg.g.output(`grad_${i}`, D, [...(params[i] as Value).shape], g));
  const session = await OnnxSession.create(encodeModel(dg.toModel()), { graphOptimization: "disabled", intraOpThreads: 1 });
  try {
    const names = grads.map((_, i) => `grad_${i}`);
    const out = await session.runMixed(check.feeds, ["loss", ...names]);
    const analytic = names.map((n) => out[n]?.data as Float64Array);
    const eps = check.eps ?? 1e-5;
    const tol = check.tol ?? 1e-6;
    const atol = check.atol ?? 1e-9;
    const lossAt = async (feeds: Record<string, InputTensor>): Promise<number> => ((await session.runMixed(feeds, ["loss"]))["loss"]?.data as Float64Array)[0] as number;
    for (const [i, p] of params.entries()) {
      const base = check.feeds[p.name]?.data as Float64Array;
      const got = analytic[i] as Float64Array;
      assert.equal(got.length, base.length, `gradient of ${p.name} has the parameter's size`);
      for (let j = 0; j < base.length; j++) {
        const nudged = (delta: number): Record<string, InputTensor> => {
          const data = Float64Array.from(base);
          data[j] = (data[j] as number) + delta;
          return { ...check.feeds, [p.name]: { data, dims: check.feeds[p.name]?.dims ?? [] } };
        };
        const numeric = ((await lossAt(nudged(eps))) - (await lossAt(nudged(-eps)))) / (2 * eps);
        const a = got[j] as number;
        assert.ok(Math.abs(a - numeric) <= tol * (Math.abs(a) + Math.abs(numeric)) + atol, `${p.name}[${j}]: analytic ${a} vs numeric ${numeric}`);
      }
    }
    return { analytic };
  } finally {
    await session.release();
  }
}

function f64(rng: Rng, dims: number[], scale = 1, offset = 0): InputTensor {
  return { data: randoms(rng, dims.reduce((a, b) => a * b, 1), scale, offset), dims };
}

test("add, sub, mul, div with broadcasting: gradients summed over the broadcast axes", async () => {
  const rng = new Rng(1);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [2, 3, 4]);
      const b = dg.param("b", [4]);
      const c = dg.param("c", [3, 1]);
      const d = dg.param("d", [1, 4]);
      const y = dg.div(dg.mul(dg.sub(dg.add(x, b), c), d), dg.add(d, dg.scale(c, 0)));
      return { loss: weightedSum(dg, dg.mul(y, x), r), params: [x, b, c, d] };
    },
    { feeds: { x: f64(rng, [2, 3, 4]), b: f64(rng, [4]), c: f64(rng, [3, 1]), d: f64(rng, [1, 4], 0.3, 2) } },
  );
});

test("matMul: a shared weight [k, n] under batched rows, and batch-matched operands", async () => {
  const rng = new Rng(2);
  await gradCheck(
    (dg, r) => {
      const a = dg.param("a", [2, 3, 4]);
      const w = dg.param("w", [4, 5]);
      const b = dg.param("b", [2, 5, 3]);
      const y = dg.matMul(dg.matMul(a, w), b); // [2, 3, 3]
      return { loss: weightedSum(dg, y, r), params: [a, w, b] };
    },
    { feeds: { a: f64(rng, [2, 3, 4]), w: f64(rng, [4, 5]), b: f64(rng, [2, 5, 3]) } },
  );
});

test("transpose and reshape route the gradient back to the original layout", async () => {
  const rng = new Rng(3);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [2, 3, 4]);
      const t = dg.transpose(x, [2, 0, 1]); // [4, 2, 3]
      const y = dg.reshape(t, [4, 6], [4, 6]);
      return { loss: weightedSum(dg, dg.mul(y, y), r), params: [x] };
    },
    { feeds: { x: f64(rng, [2, 3, 4]) } },
  );
});

test("gather (embedding lookup): repeated ids add their gradients into the same row", async () => {
  const rng = new Rng(4);
  const idValues = BigInt64Array.from([1n, 4n, 1n, 0n, 5n, 1n, 4n, 2n]);
  const { unique, inverse } = dedupIds(idValues);
  assert.deepEqual(Array.from(unique), [0n, 1n, 2n, 4n, 5n]);
  assert.deepEqual(Array.from(inverse), [1n, 3n, 1n, 0n, 4n, 1n, 3n, 2n]);
  const ids: InputTensor = { data: idValues, dims: [2, 4] };
  const { analytic } = await gradCheck(
    (dg, r) => {
      const table = dg.param("table", [6, 3]);
      const y = dg.gather(table, dg.indices("ids", [2, 4]), [2, 4], { unique: dg.indices("ids_unique", ["U"]), inverse: dg.indices("ids_inverse", [2, 4]) });
      return { loss: weightedSum(dg, y, r), params: [table] };
    },
    { feeds: { table: f64(rng, [6, 3]), ids, ids_unique: { data: unique, dims: [unique.length] }, ids_inverse: { data: inverse, dims: [2, 4] } } },
  );
  // Row 3 is never looked up: its gradient is exactly zero.
  assert.deepEqual(Array.from((analytic[0] as Float64Array).subarray(9, 12)), [0, 0, 0]);
});

test("padRows / unpadRows (packed sequences of lengths 3, 1, 2 in a padded [3 x 3] layout): padding slots hold and receive zero", async () => {
  const rng = new Rng(41);
  // Slot i of the padded layout holds packed row padIndex[i]; 6 (= T) marks a padding slot.
  const padIndex: InputTensor = { data: BigInt64Array.from([0n, 1n, 2n, 3n, 6n, 6n, 4n, 5n, 6n]), dims: [9] };
  const unpadIndex: InputTensor = { data: BigInt64Array.from([0n, 1n, 2n, 3n, 6n, 7n]), dims: [6] };
  const { analytic } = await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [6, 2]);
      const y = dg.param("y", [9, 2]);
      const pad = dg.indices("pad", [9]);
      const unpad = dg.indices("unpad", [6]);
      const spread = dg.padRows(x, pad, unpad, 9); // [9, 2]
      const packed = dg.unpadRows(dg.mul(y, dg.add(spread, y)), unpad, pad, 6); // [6, 2]
      return { loss: dg.add(weightedSum(dg, dg.mul(spread, spread), r), weightedSum(dg, packed, r)), params: [x, y] };
    },
    { feeds: { x: f64(rng, [6, 2]), y: f64(rng, [9, 2]), pad: padIndex, unpad: unpadIndex } },
  );
  // y's padding slots (4, 5, 8) reach the loss only through unpadRows, which drops them.
  const dy = analytic[1] as Float64Array;
  for (const slot of [4, 5, 8]) assert.ok(dy[2 * slot] === 0 && dy[2 * slot + 1] === 0, `slot ${slot}: ${dy[2 * slot]}, ${dy[2 * slot + 1]}`);
});

test("softmax over the last axis", async () => {
  const rng = new Rng(5);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [3, 5]);
      return { loss: weightedSum(dg, dg.softmax(x, -1), r), params: [x] };
    },
    { feeds: { x: f64(rng, [3, 5]) } },
  );
});

test("erf GELU", async () => {
  const rng = new Rng(6);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [4, 5]);
      return { loss: weightedSum(dg, dg.gelu(x), r), params: [x] };
    },
    { feeds: { x: f64(rng, [4, 5], 1.5) }, tol: 1e-6, atol: 1e-8 },
  );
});

test("LayerNorm over the last axis: x, gamma and beta", async () => {
  const rng = new Rng(8);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [2, 3, 5]);
      const gamma = dg.param("gamma", [5]);
      const beta = dg.param("beta", [5]);
      return { loss: weightedSum(dg, dg.layerNorm(x, gamma, beta, 1e-12), r), params: [x, gamma, beta] };
    },
    { feeds: { x: f64(rng, [2, 3, 5]), gamma: f64(rng, [5], 0.5, 1), beta: f64(rng, [5]) } },
  );
});

test("L2 normalisation of rows", async () => {
  const rng = new Rng(9);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [3, 4]);
      return { loss: weightedSum(dg, dg.l2Normalize(x), r), params: [x] };
    },
    { feeds: { x: f64(rng, [3, 4]) } },
  );
});

test("reduceSum and reduceMean, with and without keepdims", async () => {
  const rng = new Rng(10);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [2, 3, 4]);
      const a = dg.reduceSum(x, [1], false); // [2, 4]
      const b = dg.reduceMean(x, [2], true); // [2, 3, 1]
      const c = dg.reduceMean(dg.mul(x, x), [0, 2], false); // [3]
      return { loss: dg.add(dg.add(weightedSum(dg, a, r), weightedSum(dg, b, r)), weightedSum(dg, c, r)), params: [x] };
    },
    { feeds: { x: f64(rng, [2, 3, 4]) } },
  );
});

test("tanh and a Matryoshka slice of the last axis", async () => {
  const rng = new Rng(12);
  await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [2, 3, 5]);
      return { loss: weightedSum(dg, dg.sliceLast(dg.tanh(x), 3), r), params: [x] };
    },
    { feeds: { x: f64(rng, [2, 3, 5]) } },
  );
});

test("dropout with a given mask: kept entries scaled by 1/(1-p), dropped ones get no gradient", async () => {
  const rng = new Rng(13);
  const mask: InputTensor = { data: Uint8Array.from([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1]), dims: [3, 4] };
  const { analytic } = await gradCheck(
    (dg, r) => {
      const x = dg.param("x", [3, 4]);
      return { loss: weightedSum(dg, dg.dropout(dg.gelu(x), dg.bytes("mask", [3, 4]), 0.25), r), params: [x] };
    },
    { feeds: { x: f64(rng, [3, 4]), mask } },
  );
  (mask.data as Uint8Array).forEach((m, i) => {
    if (m === 0) assert.equal(Math.abs(analytic[0]?.[i] ?? NaN), 0);
  });
});

test("maxOver routes the gradient to the arg-max only (the first on ties): by hand", async () => {
  const dg = new DiffGraph({ dtype: D });
  const x = dg.param("x", [2, 3]);
  const m = dg.maxOver(x, 1); // [2]
  const loss = dg.reduceSum(dg.mul(m, dg.constant([2, 5], [2])), [0], false);
  const [grad] = dg.gradientsOf(loss, [x]);
  dg.output("loss", loss);
  dg.g.output("grad", D, [2, 3], grad);
  const session = await OnnxSession.create(encodeModel(dg.toModel()), { graphOptimization: "disabled" });
  try {
    const out = await session.runMixed({ x: { data: Float64Array.from([1, 3, 2, 4, 4, -1]), dims: [2, 3] } }, ["loss", "grad"]);
    assert.deepEqual(Array.from(out["loss"]?.data as Float64Array), [2 * 3 + 5 * 4]);
    assert.deepEqual(Array.from(out["grad"]?.data as Float64Array), [0, 2, 0, 5, 0, 0]);
  } finally {
    await session.release();
  }
});

const [V, H, S, Q] = [7, 4, 3, 2];

/** A whole small ColBERT block: embeddings, LayerNorm, masked attention, GELU head, L2 norm, MaxSim. */
function colbertBlock(dg: DiffGraph, r: Rng): { loss: Value; params: Value[] } {
  const emb = dg.param("emb", [V, H]);
  const gamma = dg.param("gamma", [H]);
  const beta = dg.param("beta", [H]);
  const wq = dg.param("wq", [H, H]);
  const wk = dg.param("wk", [H, H]);
  const w1 = dg.param("w1", [H, H]);
  const query = dg.param("query", [Q, H]);
  const x = dg.layerNorm(dg.gather(emb, dg.indices("ids", [2, S]), [2, S], { unique: dg.indices("ids_unique", ["U"]), inverse: dg.indices("ids_inverse", [2, S]) }), gamma, beta, 1e-12); // [2, S, H]
  const scores = dg.scale(dg.matMul(dg.matMul(x, wq), dg.transpose(dg.matMul(x, wk), [0, 2, 1])), 1 / Math.sqrt(H)); // [2, S, S]
  const att = dg.softmax(dg.add(scores, dg.input("maskBias", [2, 1, S])), -1);
  const h = dg.add(x, dg.matMul(att, x)); // residual
  const docs = dg.l2Normalize(dg.gelu(dg.matMul(h, w1))); // [2, S, H]
  const q = dg.l2Normalize(query); // [Q, H]
  const sims = dg.matMul(docs, dg.transpose(q, [1, 0])); // [2, S, Q]
  const maxsim = dg.reduceSum(dg.maxOver(sims, 1), [1], false); // [2]
  return { loss: weightedSum(dg, maxsim, r), params: [emb, gamma, beta, wq, wk, w1, query] };
}

function colbertBlockFeeds(): Record<string, InputTensor> {
  const rng = new Rng(11);
  const ids = BigInt64Array.from([1n, 3n, 6n, 2n, 2n, 5n]);
  const { unique, inverse } = dedupIds(ids);
  return {
    ids: { data: ids, dims: [2, S] },
    ids_unique: { data: unique, dims: [unique.length] },
    ids_inverse: { data: inverse, dims: [2, S] },
    maskBias: { data: Float64Array.from([0, 0, -1e9, 0, 0, 0]), dims: [2, 1, S] },
    emb: f64(rng, [V, H]),
    gamma: f64(rng, [H], 0.3, 1),
    beta: f64(rng, [H], 0.1),
    wq: f64(rng, [H, H], 0.5),
    wk: f64(rng, [H, H], 0.5),
    w1: f64(rng, [H, H], 0.7),
    query: f64(rng, [Q, H]),
  };
}

test("a whole small ColBERT block: embeddings, LayerNorm, masked attention, GELU head, L2 norm, MaxSim", async () => {
  await gradCheck(colbertBlock, { feeds: colbertBlockFeeds(), tol: 1e-5, atol: 1e-8 });
});

test("the float32 graph (fused LayerNorm, native Erf) gives the float64 graph's gradients to float32 precision", async () => {
  const feeds64 = colbertBlockFeeds();
  const feeds32: Record<string, InputTensor> = {};
  for (const [name, t] of Object.entries(feeds64)) feeds32[name] = t.data instanceof Float64Array ? { data: Float32Array.from(t.data), dims: t.dims } : t;
  const run = async (dtype: typeof DataType.FLOAT | typeof DataType.DOUBLE, feeds: Record<string, InputTensor>): Promise<number[][]> => {
    const dg = new DiffGraph({ dtype });
    const { loss, params } = colbertBlock(dg, new Rng(7));
    const grads = dg.gradientsOf(loss, params);
    grads.forEach((g, i) => dg.g.output(`grad_${i}`, dtype, [...(params[i] as Value).shape], g));
    const session = await OnnxSession.create(encodeModel(dg.toModel()));
    try {
      const out = await session.runMixed(feeds, grads.map((_, i) => `grad_${i}`));
      return grads.map((_, i) => Array.from(out[`grad_${i}`]?.data as Float32Array | Float64Array));
    } finally {
      await session.release();
    }
  };
  const exact = await run(D, feeds64);
  const fast = await run(DataType.FLOAT, feeds32);
  exact.forEach((g, i) => {
    const scale = Math.max(...g.map(Math.abs));
    g.forEach((v, j) => assert.ok(Math.abs(v - (fast[i]?.[j] ?? NaN)) <= 1e-4 * scale, `param ${i}[${j}]: float64 ${v} vs float32 ${fast[i]?.[j]}`));
  });
});

test("gather's gradient adds repeated ids exactly on several threads (1,440 ids, most repeated, 5 runs)", async () => {
  const [V, H, N] = [50, 384, 1440];
  const rng = new Rng(14);
  const idValues = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 3 === 0 ? 0 : rng.int(V)));
  const { unique, inverse } = dedupIds(idValues);
  const r = Float32Array.from({ length: N * H }, () => rng.normal());
  const dg = new DiffGraph();
  const table = dg.param("table", [V, H]);
  const y = dg.gather(table, dg.indices("ids", [N]), [N], { unique: dg.indices("ids_unique", ["U"]), inverse: dg.indices("ids_inverse", [N]) });
  const loss = dg.reduceSum(dg.mul(y, dg.input("r", [N, H])), [0, 1], false);
  const [grad] = dg.gradientsOf(loss, [table]);
  dg.g.output("grad", DataType.FLOAT, [V, H], grad);
  const session = await OnnxSession.create(encodeModel(dg.toModel()), { intraOpThreads: 2 });
  try {
    const feeds: Record<string, InputTensor> = {
      table: { data: new Float32Array(V * H), dims: [V, H] },
      ids: { data: idValues, dims: [N] },
      ids_unique: { data: unique, dims: [unique.length] },
      ids_inverse: { data: inverse, dims: [N] },
      r: { data: r, dims: [N, H] },
    };
    // dL/dtable[v] = sum of r's rows whose id is v.
    const want = new Float64Array(V * H);
    idValues.forEach((v, i) => {
      for (let h = 0; h < H; h++) want[Number(v) * H + h] = (want[Number(v) * H + h] as number) + (r[i * H + h] as number);
    });
    let first: Float32Array | null = null;
    for (let run = 0; run < 5; run++) {
      const got = (await session.runMixed(feeds, ["grad"]))["grad"]?.data as Float32Array;
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs((got[i] as number) - (want[i] as number)) <= 1e-3 * (1 + Math.abs(want[i] as number)), `run ${run} [${i}]: ${got[i]} vs ${want[i]}`);
      if (first) assert.deepEqual(got, first, "the same bits every run");
      else first = Float32Array.from(got);
    }
  } finally {
    await session.release();
  }
});
