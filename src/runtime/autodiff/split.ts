/**
 * Splits a forward-and-backward graph (DiffGraph.gradients appended to a forward pass) into two
 * graphs that run one after the other: the forward graph, which also returns the activations the
 * backward nodes read ("saved" values), and the backward graph, which takes them as inputs next to
 * the seeds (the incoming gradients). Between the two runs the caller holds the saved values, so the
 * seeds can be computed from the forward outputs first (a loss over a whole batch) without running
 * the forward pass a second time.
 *
 * Which node goes where:
 *   - a node that depends on a seed is backward;
 *   - a node the forward outputs need is forward; its output is saved when a backward node reads it
 *     and it depends on a parameter through another node (an activation), and recomputed in the
 *     backward graph when it does not (masks, keep-scales, a weight's transpose: cheap, and saving
 *     them would cost a copy);
 *   - a Shape node a backward node reads runs in the forward graph and its few int64s are saved, so
 *     an activation read only for its shape is not;
 *   - any other node a backward node needs (parts of gradient rules that do not depend on the seeds)
 *     is computed in the backward graph.
 */
import { ColtsError } from "../../errors.js";
import { DataType, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from "../onnx/proto.js";

/** What `splitAtSeeds` needs to know about the graph. */
export interface SplitSpec {
  /** Graph inputs carrying the incoming gradients: everything that depends on them is backward. */
  seeds: readonly string[];
  /** Graph outputs of the forward pass (the rest of the outputs belong to the backward graph). */
  forwardOutputs: readonly string[];
  /** Graph inputs that are trained weights: values depending on them are activations worth saving. */
  params: readonly string[];
}

/** The two graphs and the values passed from the first to the second. */
export interface SplitGraphs {
  /** Computes `forwardOutputs` and every saved value (outputs under their own names). */
  forward: OnnxModel;
  /** Takes the saved values (inputs under the same names), the seeds and the original inputs it reads. */
  backward: OnnxModel;
  /** Names of the saved values, in node order. */
  saved: string[];
}

/** Element type of each value the nodes produce, from the graph's inputs and initializers. */
function elementTypes(graph: OnnxGraph): Map<string, DataType> {
  const types = new Map<string, DataType>();
  for (const i of graph.inputs) types.set(i.name, i.elemType);
  for (const t of graph.initializers) types.set(t.name, t.dataType);
  for (const node of graph.nodes) {
    const first = node.inputs.find((n) => n !== "");
    const input = (i: number): DataType | undefined => types.get(node.inputs[i] ?? "");
    const attrInt = (name: string): number | undefined => {
      const a = node.attributes?.find((x) => x.name === name);
      return a?.type === "int" ? Number(a.value) : undefined;
    };
    let type: DataType | undefined;
    switch (node.opType) {
      case "Shape":
      case "Size":
      case "ArgMax":
      case "ArgMin":
        type = DataType.INT64;
        break;
      case "Cast":
        type = attrInt("to") as DataType | undefined;
        break;
      case "ConstantOfShape": {
        const a = node.attributes?.find((x) => x.name === "value");
        type = a?.type === "tensor" ? a.value.dataType : DataType.FLOAT;
        break;
      }
      case "OneHot":
        type = input(2);
        break;
      case "Where":
        type = input(1);
        break;
      case "Equal":
      case "Less":
      case "Greater":
      case "Not":
      case "And":
      case "Or":
        type = DataType.BOOL;
        break;
      default:
        type = first === undefined ? undefined : types.get(first);
    }
    if (type === undefined) continue;
    node.outputs.forEach((o, i) => {
      // TopK's second output is its indices.
      if (o !== "") types.set(o, node.opType === "TopK" && i === 1 ? DataType.INT64 : type);
    });
  }
  return types;
}

/** Per value: does it depend on any of `roots` (through the nodes, in their topological order)? */
function dependsOn(nodes: readonly OnnxNode[], roots: ReadonlySet<string>): Set<string> {
  const reached = new Set(roots);
  for (const node of nodes) {
    if (node.inputs.some((i) => reached.has(i))) for (const o of node.outputs) reached.add(o);
  }
  return reached;
}

/** Splits `model` (see the module comment). Nodes must be in topological order, as GraphBuilder writes them. */
export function splitAtSeeds(model: OnnxModel, spec: SplitSpec): SplitGraphs {
  const graph = model.graph;
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const seedDependent = dependsOn(graph.nodes, new Set(spec.seeds));
  const paramDependent = dependsOn(graph.nodes, new Set(spec.params));
  const isBackwardNode = (n: OnnxNode): boolean => n.inputs.some((i) => seedDependent.has(i));

  // Forward: every node the forward outputs need.
  const forwardNodes = new Set<number>();
  const need = [...spec.forwardOutputs];
  while (need.length > 0) {
    const v = need.pop() as string;
    const p = producer.get(v);
    if (p === undefined || forwardNodes.has(p)) continue;
    forwardNodes.add(p);
    need.push(...(graph.nodes[p] as OnnxNode).inputs.filter((i) => i !== ""));
  }
  for (const p of forwardNodes) {
    if (isBackwardNode(graph.nodes[p] as OnnxNode)) throw new ColtsError("INTERNAL", "a forward output depends on a gradient seed");
  }

  // Backward: every seed-dependent node, and what they read that is not saved.
  const backwardNodes = new Set<number>();
  const saved = new Set<string>();
  const stack: number[] = [];
  graph.nodes.forEach((n, i) => {
    if (isBackwardNode(n)) stack.push(i);
  });
  // Outputs that depend on no seed (a zero gradient of a weight no output reaches) too.
  const forwardOutputs = new Set(spec.forwardOutputs);
  for (const o of graph.outputs) {
    const p = producer.get(o.name);
    if (!forwardOutputs.has(o.name) && p !== undefined) stack.push(p);
  }
  const readsOnlyGraphInputs = (n: OnnxNode): boolean => n.inputs.every((v) => v === "" || !producer.has(v));
  while (stack.length > 0) {
    const i = stack.pop() as number;
    if (backwardNodes.has(i)) continue;
    const node = graph.nodes[i] as OnnxNode;
    const shapeOf = node.opType === "Shape" ? producer.get(node.inputs[0] ?? "") : undefined;
    if (shapeOf !== undefined && forwardNodes.has(shapeOf) && paramDependent.has(node.inputs[0] as string)) {
      // The shape of an activation: taken in the forward graph and saved (a few int64s), so the
      // activation itself need not be.
      forwardNodes.add(i);
      saved.add(node.outputs[0] as string);
      continue;
    }
    backwardNodes.add(i);
    for (const v of node.inputs) {
      const p = v === "" ? undefined : producer.get(v);
      if (p === undefined) continue; // a graph input or initializer
      const source = graph.nodes[p] as OnnxNode;
      // Saved: activations of the forward pass. Recomputed: what depends on no weight, and
      // functions of the inputs alone such as a weight's transpose (cheap, and small next to a copy).
      if (forwardNodes.has(p) && paramDependent.has(v) && !readsOnlyGraphInputs(source)) saved.add(v);
      else stack.push(p);
    }
  }

  const types = elementTypes(graph);
  const info = (name: string): OnnxValueInfo => {
    const elemType = types.get(name);
    if (elemType === undefined) throw new ColtsError("INTERNAL", `no element type known for saved value ${name}`);
    return { name, elemType };
  };
  const savedNames = graph.nodes.flatMap((n) => n.outputs.filter((o) => saved.has(o)));
  const forward = subgraph(model, forwardNodes, [
    ...graph.outputs.filter((o) => forwardOutputs.has(o.name)),
    ...savedNames.filter((s) => !forwardOutputs.has(s)).map(info),
  ], []);
  const backward = subgraph(model, backwardNodes, graph.outputs.filter((o) => !forwardOutputs.has(o.name)), savedNames.map(info));
  return { forward, backward, saved: savedNames };
}

/** The nodes `keep` of `model` (in order) with the inputs and initializers they read. */
function subgraph(model: OnnxModel, keep: ReadonlySet<number>, outputs: OnnxValueInfo[], extraInputs: OnnxValueInfo[]): OnnxModel {
  const graph = model.graph;
  const nodes = graph.nodes.filter((_, i) => keep.has(i));
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const o of outputs) read.add(o.name);
  const extra = new Set(extraInputs.map((e) => e.name));
  return {
    ...model,
    graph: {
      ...graph,
      nodes,
      initializers: graph.initializers.filter((t) => read.has(t.name)),
      inputs: [...graph.inputs.filter((i) => read.has(i.name) && !extra.has(i.name)), ...extraInputs],
      outputs,
      valueInfo: (graph.valueInfo ?? []).filter((v) => read.has(v.name)),
    },
  };
}
