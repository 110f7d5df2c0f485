/**
 * Splitting a forward-and-backward graph in two (runtime/autodiff/split.ts): the forward half returns
 * what the backward half reads, and running the halves one after the other gives the whole graph's
 * outputs. What is saved is checked by name on a small hand-built graph.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DiffGraph } from "../../src/runtime/autodiff/diff-graph.js";
import { splitAtSeeds } from "../../src/runtime/autodiff/split.js";
import { encodeModel } from "../../src/runtime/onnx/proto.js";
import { OnnxSession, type InputTensor } from "../../src/runtime/session.js";
import { Rng } from "../../src/util/rng.js";

/**
 * y = tanh(x · Wᵀ) · keep, reshaped to [B·S, 3] and back, with keep = cast(mask) (no weight: never saved);
 * gradients of W and V from a seed on z = y · Vᵀ and of an unused weight U (a zero tensor).
 */
function smallGraph(): { model: ReturnType<DiffGraph["toModel"]>; names: { y: string; wt: string } } {
  const dg = new DiffGraph({ name: "split" });
  const W = dg.param("W", [3, 4]);
  const V = dg.param("V", [2, 3]);
  const U = dg.param("U", [5]);
  const x = dg.input("x", ["B", "S", 4]);
  const mask = dg.bytes("mask", ["B", "S", 3]);
  const wt = dg.transpose(W, [1, 0]);
  const y = dg.dropout(dg.tanh(dg.matMul(x, wt)), mask, 0.5); // [B, S, 3]
  const flat = dg.reshape(dg.reshape(y, [-1, 3], ["BS", 3]), [2, -1, 3], [2, "S", 3]); // the test feeds B = 2
  const z = dg.matMul(flat, dg.transpose(V, [1, 0])); // [B, S, 2]
  dg.output("z", z);
  const grads = dg.gradients([{ value: z, grad: dg.input("grad_z", ["B", "S", 2]).name }], [W, V, U]);
  ["W", "V", "U"].forEach((n, i) => dg.g.output(`grad/${n}`, dg.dtype, n === "W" ? [3, 4] : n === "V" ? [2, 3] : [5], grads[i]));
  return { model: dg.toModel(), names: { y: y.name, wt: wt.name } };
}

test("forward half then backward half = the whole graph; activations saved, weight transposes and masks recomputed", async () => {
  const { model, names } = smallGraph();
  const split = splitAtSeeds(model, { seeds: ["grad_z"], forwardOutputs: ["z"], params: ["W", "V", "U"] });
  assert.ok(split.saved.length > 0);
  assert.ok(!split.saved.includes(names.wt), "a weight's transpose is recomputed, not saved");
  assert.ok(!split.saved.some((s) => split.forward.graph.nodes.some((n) => n.outputs.includes(s) && n.opType === "Cast")), "the keep mask is recomputed");
  const inputs = (m: typeof model): string[] => m.graph.inputs.map((i) => i.name);
  assert.ok(!inputs(split.forward).includes("grad_z"), "the forward half does not read the seed");
  assert.ok(inputs(split.backward).includes("grad_z") && inputs(split.backward).includes("mask"));
  for (const s of split.saved) assert.ok(inputs(split.backward).includes(s), `backward reads saved ${s}`);

  const rng = new Rng(5);
  const [B, S] = [2, 3];
  const feeds: Record<string, InputTensor> = {
    W: { data: Float32Array.from(rng.normalArray(12, 0.5)), dims: [3, 4] },
    V: { data: Float32Array.from(rng.normalArray(6, 0.5)), dims: [2, 3] },
    U: { data: new Float32Array(5), dims: [5] },
    x: { data: Float32Array.from(rng.normalArray(B * S * 4, 1)), dims: [B, S, 4] },
    mask: { data: Uint8Array.from({ length: B * S * 3 }, (_, i) => (i % 3 === 1 ? 0 : 1)), dims: [B, S, 3] },
    grad_z: { data: Float32Array.from(rng.normalArray(B * S * 2, 1)), dims: [B, S, 2] },
  };
  const only = (m: typeof model): Record<string, InputTensor> => Object.fromEntries(Object.entries(feeds).filter(([n]) => inputs(m).includes(n)));
  const outputs = ["z", "grad/W", "grad/V", "grad/U"];
  const sessions = await Promise.all([model, split.forward, split.backward].map((m) => OnnxSession.create(encodeModel(m))));
  try {
    const [whole, fwd, bwd] = sessions as [OnnxSession, OnnxSession, OnnxSession];
    const want = await whole.run(feeds, outputs);
    const first = await fwd.runMixed(only(split.forward), ["z", ...split.saved]);
    const second = await bwd.run({ ...only(split.backward), ...Object.fromEntries(split.saved.map((s) => [s, first[s] as InputTensor])) }, ["grad/W", "grad/V", "grad/U"]);
    assert.deepEqual(first["z"]?.data, want["z"]?.data);
    for (const name of ["grad/W", "grad/V", "grad/U"]) assert.deepEqual(second[name]?.data, want[name]?.data, name);
    assert.ok((want["grad/W"]?.data as Float32Array).some((v) => v !== 0), "a gradient that could be wrong");
    assert.ok((want["grad/U"]?.data as Float32Array).every((v) => v === 0), "the unused weight's zero gradient comes out of the backward half");
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
});

test("an activation read only for its shape is not saved: its shape is", () => {
  const { model, names } = smallGraph();
  const split = splitAtSeeds(model, { seeds: ["grad_z"], forwardOutputs: ["z"], params: ["W", "V", "U"] });
  const producers = new Map(model.graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n.opType] as const)));
  const savedShapes = split.saved.filter((s) => producers.get(s) === "Shape");
  assert.ok(savedShapes.length > 0, "the reshape's gradient reads its input's shape");
  // y is read by the reshape rule only for its shape and by nothing else of the backward pass
  // (tanh's rule reads its own output, which dropout then scales): y itself is not saved.
  assert.ok(!split.saved.includes(names.y), `saved: ${split.saved.join(", ")}`);
});
