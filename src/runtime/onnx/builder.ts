/**
 * GraphBuilder: a small, generic way to assemble an ONNX graph in code. Values are referred to by
 * name (strings); every node gets fresh unique output names, so call sites read like straight-line
 * code (`const y = g.add(g.matMul(x, w), b)`). Op helpers target the builder's opset (default 17)
 * and pick the right form where an op changed between opsets (attribute vs. input).
 */
import { ColtsError } from "../../errors.js";
import {
  attr,
  DataType,
  type Dim,
  type OnnxAttribute,
  type OnnxAttributeValue,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
  type TensorData,
} from "./proto.js";

export interface NodeOptions {
  /** Node name hint (made unique). Defaults to the op type. */
  name?: string;
  /** Number of outputs to create (default 1). */
  outputs?: number;
  /** Exact output names (must be unused); overrides `outputs`. */
  outputNames?: string[];
  domain?: string;
}

export interface ToModelOptions {
  /** opset_import version of the default domain; defaults to the builder's opset. */
  opset?: number;
  /** Defaults to 8 for opset <= 18, 9 for 19-20, 10 for 21+ (the IR each opset was released with). */
  irVersion?: number;
  producer?: string;
  producerVersion?: string;
  metadata?: Record<string, string>;
  docString?: string;
  /** Extra operator sets, e.g. { domain: "com.microsoft", version: 1 }. */
  extraOpsets?: { domain: string; version: number }[];
}

/** A list of numbers given as a constant, or the name of an int64 value computed in the graph. */
export type IntsOrValue = number[] | string;

function defaultDataType(data: TensorData): DataType {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  return DataType.UINT8;
}

/** Assembles one ONNX graph (see the file comment); every op helper returns the name of its output. */
export class GraphBuilder {
  /** The graph's name (ONNX GraphProto.name). */
  readonly name: string;
  /** Opset of the default domain the op helpers target; at least 13. */
  readonly opset: number;
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly used = new Set<string>();
  private readonly suffix = new Map<string, number>();

  /** An empty graph; `name` defaults to "graph", `opset` to 17 (ONNX_INVALID below 13). */
  constructor(options: { name?: string; opset?: number } = {}) {
    this.name = options.name ?? "graph";
    this.opset = options.opset ?? 17;
    if (this.opset < 13) throw new ColtsError("ONNX_INVALID", `GraphBuilder needs opset >= 13, got ${this.opset}`);
  }

  /** A name not used yet: the hint itself, else hint_1, hint_2, ... */
  fresh(hint: string): string {
    let name = hint;
    let n = this.suffix.get(hint) ?? 0;
    while (this.used.has(name)) name = `${hint}_${++n}`;
    this.suffix.set(hint, n);
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new ColtsError("ONNX_INVALID", `value name "${name}" is already used`);
    this.used.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, elemType: DataType, dims: Dim[]): string {
    this.inputs.push({ name: this.claim(name), elemType, dims });
    return name;
  }

  /**
   * Declares a graph output named `name`. With `value`, that value becomes the output: its producing
   * node's output is renamed when possible, otherwise an Identity node is added.
   */
  output(name: string, elemType: DataType, dims: Dim[], value?: string): void {
    if (value !== undefined && value !== name) {
      const producer = this.nodes.find((n) => n.outputs.includes(value));
      const isGraphOutput = this.outputs.some((o) => o.name === value);
      if (producer && !isGraphOutput && !this.used.has(name)) {
        this.claim(name);
        for (const n of this.nodes) {
          n.outputs = n.outputs.map((o) => (o === value ? name : o));
          n.inputs = n.inputs.map((i) => (i === value ? name : i));
        }
      } else {
        this.node("Identity", [value], {}, { name: `${name}_identity`, outputNames: [name] });
      }
    }
    this.outputs.push({ name, elemType, dims });
  }

  /** Adds an initializer (name made unique from `hint`); returns its name. Uint8Array defaults to UINT8. */
  initializer(hint: string, data: TensorData, dims: number[], dataType: DataType = defaultDataType(data)): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dataType, dims, data });
    return name;
  }

  /** A float32 constant; `dims` defaults to [values.length] ([] makes a scalar). */
  floats(values: number[] | Float32Array, dims: number[] = [values.length], hint = "const_f"): string {
    return this.initializer(hint, Float32Array.from(values), dims);
  }

  /** An int64 constant; `dims` defaults to [values.length] ([] makes a scalar). */
  int64s(values: number[], dims: number[] = [values.length], hint = "const_i64"): string {
    return this.initializer(hint, BigInt64Array.from(values, (v) => BigInt(v)), dims);
  }

  /** Adds a node; returns its (fresh) output names. Attributes are written in key order given. */
  node(opType: string, inputs: string[], attrs: Record<string, OnnxAttributeValue> = {}, opts: NodeOptions = {}): string[] {
    const name = this.fresh(opts.name ?? opType);
    const count = opts.outputs ?? 1;
    const outputs =
      opts.outputNames?.map((o) => this.claim(o)) ??
      Array.from({ length: count }, (_, i) => this.fresh(count === 1 ? `${name}_out` : `${name}_out${i}`));
    const attributes: OnnxAttribute[] = Object.entries(attrs).map(([key, v]) => ({ ...v, name: key }));
    const node: OnnxNode = { opType, inputs, outputs, name };
    if (attributes.length > 0) node.attributes = attributes;
    if (opts.domain) node.domain = opts.domain;
    this.nodes.push(node);
    return outputs;
  }

  /** A single-output node; returns the output name. */
  op(opType: string, inputs: string[], attrs: Record<string, OnnxAttributeValue> = {}, opts: NodeOptions = {}): string {
    const [out] = this.node(opType, inputs, attrs, opts.outputNames ? opts : { ...opts, outputs: 1 });
    return out ?? "";
  }

  private ints(v: IntsOrValue, hint: string): string {
    return typeof v === "string" ? v : this.int64s(v, [v.length], hint);
  }

  /** Matrix product a @ b (numpy matmul semantics, batched over leading dims). */
  matMul(a: string, b: string): string {
    return this.op("MatMul", [a, b]);
  }
  /** a + b elementwise, with numpy broadcasting. */
  add(a: string, b: string): string {
    return this.op("Add", [a, b]);
  }
  /** a - b elementwise, with numpy broadcasting. */
  sub(a: string, b: string): string {
    return this.op("Sub", [a, b]);
  }
  /** a * b elementwise, with numpy broadcasting. */
  mul(a: string, b: string): string {
    return this.op("Mul", [a, b]);
  }
  /** a / b elementwise, with numpy broadcasting. */
  div(a: string, b: string): string {
    return this.op("Div", [a, b]);
  }
  /** Elementwise maximum of the inputs, with broadcasting. */
  max(...xs: string[]): string {
    return this.op("Max", xs);
  }
  /** Elementwise minimum of the inputs, with broadcasting. */
  min(...xs: string[]): string {
    return this.op("Min", xs);
  }
  /** Elementwise square root. */
  sqrt(x: string): string {
    return this.op("Sqrt", [x]);
  }
  /** Elementwise error function (exact GELU is built from it). */
  erf(x: string): string {
    return this.op("Erf", [x]);
  }
  /** A copy of x under a new name. */
  identity(x: string): string {
    return this.op("Identity", [x]);
  }
  /** Gathers along `axis`: data [.., n, ..] indexed by int64/int32 indices. */
  gather(data: string, indices: string, axis = 0): string {
    return this.op("Gather", [data, indices], { axis: attr.int(axis) });
  }
  /** Reshape; 0 copies the input dim, -1 is inferred. */
  reshape(x: string, shape: IntsOrValue): string {
    return this.op("Reshape", [x, this.ints(shape, "shape")]);
  }
  /** Permutes the axes: output axis i is input axis perm[i]. */
  transpose(x: string, perm: number[]): string {
    return this.op("Transpose", [x], { perm: attr.ints(perm) });
  }
  /** Softmax along `axis` (default the last). */
  softmax(x: string, axis = -1): string {
    return this.op("Softmax", [x], { axis: attr.int(axis) });
  }
  /** LayerNormalization (opset 17+): normalises over axes [axis, rank). */
  layerNorm(x: string, scale: string, bias: string, epsilon: number, axis = -1): string {
    if (this.opset < 17) throw new ColtsError("ONNX_INVALID", `LayerNormalization needs opset 17, builder has ${this.opset}`);
    return this.op("LayerNormalization", [x, scale, bias], { axis: attr.int(axis), epsilon: attr.float(epsilon) });
  }
  /** Converts x to element type `to`. */
  cast(x: string, to: DataType): string {
    return this.op("Cast", [x], { to: attr.int(to) });
  }
  /** Inserts size-1 axes at `axes` (positions in the output). */
  unsqueeze(x: string, axes: IntsOrValue): string {
    return this.op("Unsqueeze", [x, this.ints(axes, "axes")]);
  }
  /** Removes the size-1 axes `axes`. */
  squeeze(x: string, axes: IntsOrValue): string {
    return this.op("Squeeze", [x, this.ints(axes, "axes")]);
  }
  /** Shape of x as int64 [rank], or its dims [start, end) (Shape attributes from opset 15, Slice before). */
  shape(x: string, start?: number, end?: number): string {
    if (start === undefined && end === undefined) return this.op("Shape", [x]);
    if (this.opset >= 15) {
      const attrs: Record<string, OnnxAttributeValue> = {};
      if (start !== undefined) attrs["start"] = attr.int(start);
      if (end !== undefined) attrs["end"] = attr.int(end);
      return this.op("Shape", [x], attrs);
    }
    return this.slice(this.op("Shape", [x]), [start ?? 0], [end ?? Number.MAX_SAFE_INTEGER]);
  }
  /** Joins the inputs along `axis`; the other dims must agree. */
  concat(xs: string[], axis: number): string {
    return this.op("Concat", xs, { axis: attr.int(axis) });
  }
  /** L2 norm over `axes` (axes is an attribute before opset 18, an input from 18). */
  reduceL2(x: string, axes: number[], keepdims = true): string {
    const keep = { keepdims: attr.int(keepdims ? 1 : 0) };
    if (this.opset >= 18) return this.op("ReduceL2", [x, this.int64s(axes, [axes.length], "axes")], keep);
    return this.op("ReduceL2", [x], { axes: attr.ints(axes), ...keep });
  }
  /** Mean over `axes` (attribute before opset 18, input from 18). */
  reduceMean(x: string, axes: number[], keepdims = true): string {
    const keep = { keepdims: attr.int(keepdims ? 1 : 0) };
    if (this.opset >= 18) return this.op("ReduceMean", [x, this.int64s(axes, [axes.length], "axes")], keep);
    return this.op("ReduceMean", [x], { axes: attr.ints(axes), ...keep });
  }
  /** Max over `axes` (attribute before opset 18, input from 18). */
  reduceMax(x: string, axes: number[], keepdims = true): string {
    const keep = { keepdims: attr.int(keepdims ? 1 : 0) };
    if (this.opset >= 18) return this.op("ReduceMax", [x, this.int64s(axes, [axes.length], "axes")], keep);
    return this.op("ReduceMax", [x], { axes: attr.ints(axes), ...keep });
  }
  /** Sum over `axes` (axes are an input from opset 13). */
  reduceSum(x: string, axes: number[], keepdims = true): string {
    return this.op("ReduceSum", [x, this.int64s(axes, [axes.length], "axes")], { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  /** Sum of squares over `axes` (attribute before opset 18, input from 18). */
  reduceSumSquare(x: string, axes: number[], keepdims = true): string {
    const keep = { keepdims: attr.int(keepdims ? 1 : 0) };
    if (this.opset >= 18) return this.op("ReduceSumSquare", [x, this.int64s(axes, [axes.length], "axes")], keep);
    return this.op("ReduceSumSquare", [x], { axes: attr.ints(axes), ...keep });
  }
  /** Product over `axes` (attribute before opset 18, input from 18). */
  reduceProd(x: string, axes: number[], keepdims = true): string {
    const keep = { keepdims: attr.int(keepdims ? 1 : 0) };
    if (this.opset >= 18) return this.op("ReduceProd", [x, this.int64s(axes, [axes.length], "axes")], keep);
    return this.op("ReduceProd", [x], { axes: attr.ints(axes), ...keep });
  }
  /** x broadcast to `shape` (an int64 value or constant), numpy rules. */
  expand(x: string, shape: IntsOrValue): string {
    return this.op("Expand", [x, this.ints(shape, "shape")]);
  }
  /** Index of the maximum along `axis` (int64; ties: the first, as select_last_index = 0). */
  argMax(x: string, axis: number, keepdims = true): string {
    return this.op("ArgMax", [x], { axis: attr.int(axis), keepdims: attr.int(keepdims ? 1 : 0), select_last_index: attr.int(0) });
  }
  /** The k largest (or smallest) values along `axis` and their int64 indices, sorted; ties: lower index first. */
  topK(x: string, k: number, axis = -1, largest = true): [string, string] {
    const [values, indices] = this.node("TopK", [x, this.int64s([k], [1], "k")], { axis: attr.int(axis), largest: attr.int(largest ? 1 : 0), sorted: attr.int(1) }, { outputs: 2 });
    return [values ?? "", indices ?? ""];
  }
  /** Clip with optional scalar bound values (names of scalar tensors of x's type). */
  clip(x: string, min?: string, max?: string): string {
    const inputs = [x, min ?? "", max ?? ""];
    while (inputs[inputs.length - 1] === "") inputs.pop();
    return this.op("Clip", inputs);
  }
  /** Slice x[starts:ends:steps] on `axes` (all int64 1-D). */
  slice(x: string, starts: IntsOrValue, ends: IntsOrValue, axes?: IntsOrValue, steps?: IntsOrValue): string {
    const inputs = [x, this.ints(starts, "starts"), this.ints(ends, "ends")];
    if (axes !== undefined || steps !== undefined) inputs.push(axes === undefined ? "" : this.ints(axes, "axes"));
    if (steps !== undefined) inputs.push(this.ints(steps, "steps"));
    return this.op("Slice", inputs);
  }
  /** Range(start, limit, delta): scalar inputs, 1-D output. */
  range(start: string, limit: string, delta: string): string {
    return this.op("Range", [start, limit, delta]);
  }
  /** DynamicQuantizeLinear: float x -> [y uint8, y_scale float scalar, y_zero_point uint8 scalar]. */
  dynamicQuantizeLinear(x: string): [string, string, string] {
    const [y, scale, zp] = this.node("DynamicQuantizeLinear", [x], {}, { outputs: 3 });
    return [y ?? "", scale ?? "", zp ?? ""];
  }
  /** MatMulInteger: int32 result of (a - aZeroPoint) @ (b - bZeroPoint); zero points optional. */
  matMulInteger(a: string, b: string, aZeroPoint?: string, bZeroPoint?: string): string {
    const inputs = [a, b, aZeroPoint ?? "", bZeroPoint ?? ""];
    while (inputs[inputs.length - 1] === "") inputs.pop();
    return this.op("MatMulInteger", inputs);
  }

  /** The finished model. The builder can keep being used; later changes do not affect this model's arrays of nodes. */
  toModel(options: ToModelOptions = {}): OnnxModel {
    const opset = options.opset ?? this.opset;
    const irVersion = options.irVersion ?? (opset >= 21 ? 10 : opset >= 19 ? 9 : 8);
    const model: OnnxModel = {
      irVersion,
      opsetImports: [{ domain: "", version: opset }, ...(options.extraOpsets ?? [])],
      producerName: options.producer ?? "colts",
      graph: {
        name: this.name,
        nodes: this.nodes.map((n) => ({ ...n })),
        initializers: this.initializers.slice(),
        inputs: this.inputs.slice(),
        outputs: this.outputs.slice(),
      },
    };
    if (options.producerVersion !== undefined) model.producerVersion = options.producerVersion;
    if (options.metadata) model.metadata = { ...options.metadata };
    if (options.docString !== undefined) model.graph.docString = options.docString;
    return model;
  }
}
