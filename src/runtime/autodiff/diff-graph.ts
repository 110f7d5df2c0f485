/**
 * A differentiable ONNX graph: forward ops are built with the project's GraphBuilder and recorded on
 * a tape together with their hand-derived vector-Jacobian product (VJP); `gradients` walks the tape
 * backwards and adds the gradient nodes to the same graph, so one onnxruntime run gives the loss and
 * every parameter's gradient. This is how the training engine gets its backward pass without an
 * autodiff framework: each rule below is the textbook derivative of its op, checked against central
 * finite differences in test/runtime/autodiff.test.ts.
 *
 * Values carry a static shape whose dims are numbers or symbolic names ("B", "S"): broadcasting
 * decides at build time which axes a gradient must be summed over, and reshapes that need the real
 * sizes read them from the graph (`Shape`). Only float values (FLOAT, or DOUBLE for exact gradient
 * checks) are differentiable; ids and masks enter as plain inputs.
 */
import { ColtsError } from "../../errors.js";
import { GraphBuilder } from "../onnx/builder.js";
import { attr, DataType, type Dim, type OnnxModel } from "../onnx/proto.js";

/** A float tensor of the graph: its value name and static shape (numbers or symbolic names). */
export interface Value {
  /** The ONNX value name. */
  readonly name: string;
  /** Static shape; a string is a size known only at run time (the same string means the same size). */
  readonly shape: readonly Dim[];
}

/**
 * The distinct values of int64 ids (ascending) and, per id, its index among them: what
 * `DiffGraph.gather` needs to add repeated ids' gradients exactly.
 */
export function dedupIds(ids: ArrayLike<bigint>): { unique: BigInt64Array; inverse: BigInt64Array } {
  const unique = BigInt64Array.from(new Set(Array.from(ids))).sort();
  const index = new Map<bigint, number>();
  unique.forEach((v, i) => index.set(v, i));
  return { unique, inverse: BigInt64Array.from(Array.from(ids), (v) => BigInt(index.get(v) as number)) };
}

/** The float type a DiffGraph computes in: FLOAT for training, DOUBLE for gradient checks. */
export type FloatType = typeof DataType.FLOAT | typeof DataType.DOUBLE;

/** One recorded op: its inputs, its output, and the gradient of each input given the output's. */
interface TapeEntry {
  inputs: readonly Value[];
  output: Value;
  /** dy: the name of the output's gradient; returns each input's gradient (null: none flows there). */
  vjp: (dy: string) => (string | null)[];
}

/** Options of a DiffGraph. */
export interface DiffGraphOptions {
  /** Float type of every differentiable value. Default FLOAT. */
  dtype?: FloatType;
  /** Graph name. Default "diff". */
  name?: string;
}

function broadcastShape(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Axes of `out` that a value of shape `shape` was broadcast along (right-aligned). */
function broadcastAxes(shape: readonly Dim[], out: readonly Dim[]): number[] {
  const axes: number[] = [];
  const lead = out.length - shape.length;
  for (let i = 0; i < out.length; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && out[i] !== 1) axes.push(i);
  }
  return axes;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ColtsError("INPUT_INVALID", `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/**
 * A graph under construction whose float ops record their gradients: build the forward pass with
 * the op methods, then call `gradients` / `gradientsOf` and declare the outputs.
 */
export class DiffGraph {
  /** The underlying builder (for non-differentiable parts: masks, ids, outputs). */
  readonly g: GraphBuilder;
  /** Float type of the differentiable values. */
  readonly dtype: FloatType;
  private readonly tape: TapeEntry[] = [];
  /** Values that depend on a parameter (only these are recorded and get gradients). */
  private readonly live = new Set<string>();
  /** Scalar constants by value (every layer's GELU, LayerNorm and scale constants share them). */
  private readonly scalars = new Map<number, string>();
  /** [1, C] zero constants by C (every padRows / unpadRows of a width shares one). */
  private readonly zeroRows = new Map<number, string>();

  /** An empty graph (opset 17) computing in `options.dtype`. */
  constructor(options: DiffGraphOptions = {}) {
    this.dtype = options.dtype ?? DataType.FLOAT;
    this.g = new GraphBuilder({ name: options.name ?? "diff", opset: 17 });
  }

  /** A differentiable graph input (a weight fed at every run). */
  param(name: string, shape: readonly Dim[]): Value {
    const v = { name: this.g.input(name, this.dtype, [...shape]), shape };
    this.live.add(v.name);
    return v;
  }

  /** A float graph input that gets no gradient (masks, dropout keep-scales, teacher scores). */
  input(name: string, shape: readonly Dim[]): Value {
    return { name: this.g.input(name, this.dtype, [...shape]), shape };
  }

  /** An int64 graph input (token ids, positions); returns its name. */
  indices(name: string, shape: readonly Dim[]): string {
    return this.g.input(name, DataType.INT64, [...shape]);
  }

  /** A float constant of this graph's type. */
  constant(values: ArrayLike<number>, shape: readonly number[], hint = "const"): Value {
    const data = this.dtype === DataType.DOUBLE ? Float64Array.from(values) : Float32Array.from(values);
    return { name: this.g.initializer(hint, data, [...shape]), shape };
  }

  /** A scalar constant (shape []); one initializer per distinct value, however often it is asked for. */
  scalar(value: number): Value {
    let name = this.scalars.get(value);
    if (name === undefined) {
      name = this.constant([value], [], "scalar").name;
      this.scalars.set(value, name);
    }
    return { name, shape: [] };
  }

  /**
   * Declares `v` a graph output under `name`, through an Identity node: the value keeps its own name,
   * which gradient nodes added later still refer to.
   */
  output(name: string, v: Value): void {
    this.g.node("Identity", [v.name], {}, { outputNames: [name] });
    this.g.output(name, this.dtype, [...v.shape]);
  }

  /** Whether gradients flow into `v` (it depends on a parameter). */
  isLive(v: Value): boolean {
    return this.live.has(v.name);
  }

  private record(inputs: readonly Value[], output: Value, vjp: TapeEntry["vjp"]): Value {
    if (inputs.some((v) => this.live.has(v.name))) {
      this.live.add(output.name);
      this.tape.push({ inputs, output, vjp });
    }
    return output;
  }

  // ---- gradient plumbing (plain graph nodes, never recorded) ----

  /** Sums `grad` (shape `from`) down to the shape of `target` along the axes `target` was broadcast over. */
  private sumTo(grad: string, from: readonly Dim[], target: Value): string {
    const axes = broadcastAxes(target.shape, from);
    if (axes.length === 0) return grad;
    const summed = this.g.reduceSum(grad, axes, true);
    return this.g.reshape(summed, this.g.shape(target.name));
  }

  private zerosLike(v: Value): string {
    const zero = this.dtype === DataType.DOUBLE ? Float64Array.of(0) : Float32Array.of(0);
    return this.g.op("ConstantOfShape", [this.g.shape(v.name)], { value: attr.tensor({ name: "zero", dataType: this.dtype, dims: [1], data: zero }) });
  }

  private scalarConst(x: number): string {
    return this.scalar(x).name;
  }

  // ---- differentiable ops ----

  /** a + b (numpy broadcasting). */
  add(a: Value, b: Value): Value {
    const shape = broadcastShape(a.shape, b.shape);
    const out = { name: this.g.add(a.name, b.name), shape };
    return this.record([a, b], out, (dy) => [this.sumTo(dy, shape, a), this.sumTo(dy, shape, b)]);
  }

  /** a - b (numpy broadcasting). */
  sub(a: Value, b: Value): Value {
    const shape = broadcastShape(a.shape, b.shape);
    const out = { name: this.g.sub(a.name, b.name), shape };
    return this.record([a, b], out, (dy) => [this.sumTo(dy, shape, a), this.sumTo(this.g.op("Neg", [dy]), shape, b)]);
  }

  /** a * b elementwise (numpy broadcasting). */
  mul(a: Value, b: Value): Value {
    const shape = broadcastShape(a.shape, b.shape);
    const out = { name: this.g.mul(a.name, b.name), shape };
    return this.record([a, b], out, (dy) => [
      this.isLive(a) ? this.sumTo(this.g.mul(dy, b.name), shape, a) : null,
      this.isLive(b) ? this.sumTo(this.g.mul(dy, a.name), shape, b) : null,
    ]);
  }

  /** a / b elementwise (numpy broadcasting). d/db = -a / b² = -y / b. */
  div(a: Value, b: Value): Value {
    const shape = broadcastShape(a.shape, b.shape);
    const out = { name: this.g.div(a.name, b.name), shape };
    return this.record([a, b], out, (dy) => [
      this.isLive(a) ? this.sumTo(this.g.div(dy, b.name), shape, a) : null,
      this.isLive(b) ? this.sumTo(this.g.op("Neg", [this.g.div(this.g.mul(dy, out.name), b.name)]), shape, b) : null,
    ]);
  }

  /** x * c for a number c. */
  scale(x: Value, c: number): Value {
    const k = this.scalarConst(c);
    const out = { name: this.g.mul(x.name, k), shape: x.shape };
    return this.record([x], out, (dy) => [this.g.mul(dy, k)]);
  }

  /**
   * a @ b. a: [..., m, k]; b: [k, n] (a weight, shared by every leading index of a) or [..., k, n]
   * with the same leading dims as a. dA = dY @ bᵀ; dB = aᵀ @ dY, summed over a's leading dims.
   */
  matMul(a: Value, b: Value): Value {
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (ra < 2 || rb < 2 || (rb !== 2 && rb !== ra)) throw new ColtsError("INPUT_INVALID", `matMul: shapes [${a.shape.join(",")}] and [${b.shape.join(",")}] are not supported`);
    const shape = [...a.shape.slice(0, -1), b.shape[rb - 1] as Dim];
    const out = { name: this.g.matMul(a.name, b.name), shape };
    const swap = (r: number): number[] => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
    return this.record([a, b], out, (dy) => {
      const da = this.isLive(a) ? this.g.matMul(dy, this.g.transpose(b.name, swap(rb))) : null;
      let db: string | null = null;
      if (this.isLive(b)) {
        if (rb === 2 && ra > 2) {
          const k = b.shape[0];
          const n = b.shape[1];
          if (typeof k !== "number" || typeof n !== "number") throw new ColtsError("INPUT_INVALID", "matMul: a shared right operand needs a static shape");
          const a2 = this.g.reshape(a.name, [-1, k]);
          const dy2 = this.g.reshape(dy, [-1, n]);
          db = this.g.matMul(this.g.transpose(a2, [1, 0]), dy2);
        } else {
          db = this.g.matMul(this.g.transpose(a.name, swap(ra)), dy);
        }
      }
      return [da, db];
    });
  }

  /** Permutes the axes. The gradient is permuted back. */
  transpose(x: Value, perm: readonly number[]): Value {
    const shape = perm.map((p) => x.shape[p] as Dim);
    const out = { name: this.g.transpose(x.name, [...perm]), shape };
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return this.record([x], out, (dy) => [this.g.transpose(dy, inverse)]);
  }

  /**
   * Reshapes to `shape`: numbers (-1 and 0 as ONNX Reshape) or the name of an int64 shape value
   * computed in the graph; `staticShape` is the result's declared shape.
   */
  reshape(x: Value, shape: readonly number[] | string, staticShape: readonly Dim[]): Value {
    const out = { name: this.g.reshape(x.name, typeof shape === "string" ? shape : [...shape]), shape: staticShape };
    return this.record([x], out, (dy) => [this.g.reshape(dy, this.g.shape(x.name))]);
  }

  /**
   * Rows of `table` ([V, H]) picked by int64 `ids` of shape `idsShape`: [...idsShape, H].
   * The gradient adds each picked row's gradient into its table row. Repeated ids must add up exactly
   * and in a fixed order, so the caller passes the ids' distinct values `unique` ([U] int64, no
   * repeats) and, per id, its index in `unique` (`inverse`, int64 of `idsShape`): the row gradients
   * are summed per distinct id by a [U, N] one-hot product (deterministic), then written into a zero
   * [V, H] table by a ScatterND whose indices never repeat. (ScatterND's own "add" reduction races on
   * repeated indices when onnxruntime runs it on several threads.)
   */
  gather(table: Value, ids: string, idsShape: readonly Dim[], dedup: { unique: string; inverse: string }): Value {
    const H = table.shape[1] as Dim;
    const shape = [...idsShape, H];
    const out = { name: this.g.gather(table.name, ids), shape };
    return this.record([table], out, (dy) => {
      const depth = this.g.shape(dedup.unique);
      const hot = this.g.op("OneHot", [this.g.reshape(dedup.inverse, [-1]), depth, this.g.floats([0, 1])], { axis: attr.int(-1) }); // [N, U]
      const perId = this.g.transpose(this.dtype === DataType.FLOAT ? hot : this.g.cast(hot, this.dtype), [1, 0]); // [U, N]
      const rows = this.g.matMul(perId, this.g.reshape(dy, typeof H === "number" ? [-1, H] : [-1, 0])); // [U, H]
      return [this.g.op("ScatterND", [this.zerosLike(table), this.g.unsqueeze(dedup.unique, [-1]), rows])];
    });
  }

  /**
   * Packed rows spread into a padded layout: x [T, C] (the real tokens of every sequence, one after
   * another) becomes y [N, C] with y[i] = x[padIndex[i]], and y[i] = 0 where padIndex[i] = T (a
   * padding slot). `unpadIndex` ([T] int64) is the inverse: the slot of each packed row, every slot
   * used at most once. Each x row lands in exactly one slot, so the gradient is a gather too:
   * dx[t] = dy[unpadIndex[t]] (no scatter, no repeated-index sums).
   */
  padRows(x: Value, padIndex: string, unpadIndex: string, rows: Dim): Value {
    const zero = this.zeroRow(x);
    const out = { name: this.g.gather(this.g.concat([x.name, zero], 0), padIndex), shape: [rows, x.shape[1] as Dim] };
    return this.record([x], out, (dy) => [this.g.gather(dy, unpadIndex)]);
  }

  /**
   * The inverse of `padRows`: y [N, C] in the padded layout back to its packed rows x [T, C],
   * x[t] = y[unpadIndex[t]]; padding slots are dropped, so their gradient is zero:
   * dy[i] = dx[padIndex[i]], or 0 where padIndex[i] = T.
   */
  unpadRows(y: Value, unpadIndex: string, padIndex: string, rows: Dim): Value {
    const out = { name: this.g.gather(y.name, unpadIndex), shape: [rows, y.shape[1] as Dim] };
    return this.record([y], out, (dx) => [this.g.gather(this.g.concat([dx, this.zeroRow(y)], 0), padIndex)]);
  }

  /** A [1, C] zero constant for a [rows, C] value with a static C. */
  private zeroRow(x: Value): string {
    const C = x.shape[1];
    if (x.shape.length !== 2 || typeof C !== "number") throw new ColtsError("INPUT_INVALID", `padRows/unpadRows: [rows, C] with a static C, got [${x.shape.join(",")}]`);
    let name = this.zeroRows.get(C);
    if (name === undefined) {
      name = this.constant(new Float64Array(C), [1, C], "zero_row").name;
      this.zeroRows.set(C, name);
    }
    return name;
  }

  /** Softmax over `axis`. dx = y ⊙ (dy − Σ(dy ⊙ y)). */
  softmax(x: Value, axis = -1): Value {
    const ax = normAxis(axis, x.shape.length);
    const out = { name: this.g.softmax(x.name, ax), shape: x.shape };
    return this.record([x], out, (dy) => [this.g.mul(out.name, this.g.sub(dy, this.g.reduceSum(this.g.mul(dy, out.name), [ax], true)))]);
  }

  /**
   * Erf of x. onnxruntime has no double Erf on CPU, and a float32 one would put float32 noise into a
   * gradient check, so a DOUBLE graph sums erf's Maclaurin series (Horner in x², 96 terms) on x
   * clipped to ±4.5, where erf is ±1 within 2e-10; the series' cancellation costs at most ~7 of
   * double's 16 digits there.
   */
  private erfNode(x: string): string {
    if (this.dtype === DataType.FLOAT) return this.g.erf(x);
    const xc = this.g.clip(x, this.scalarConst(-4.5), this.scalarConst(4.5));
    const x2 = this.g.mul(xc, xc);
    const terms = 96;
    let factorial = 1;
    const coef: number[] = [];
    for (let n = 0; n < terms; n++) {
      if (n > 0) factorial *= n;
      coef.push((n % 2 === 0 ? 1 : -1) / (factorial * (2 * n + 1)));
    }
    let p = this.scalarConst(coef[terms - 1] as number);
    for (let n = terms - 2; n >= 0; n--) p = this.g.add(this.g.mul(p, x2), this.scalarConst(coef[n] as number));
    return this.g.mul(this.g.mul(p, xc), this.scalarConst(2 / Math.sqrt(Math.PI)));
  }

  /**
   * The exact (erf) GELU of BERT: 0.5·x·(1 + erf(x/√2)).
   * d/dx = 0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π).
   */
  gelu(x: Value): Value {
    const cdf = this.g.mul(this.g.add(this.erfNode(this.g.mul(x.name, this.scalarConst(Math.SQRT1_2))), this.scalarConst(1)), this.scalarConst(0.5));
    const out = { name: this.g.mul(x.name, cdf), shape: x.shape };
    return this.record([x], out, (dy) => {
      const pdf = this.g.mul(this.g.op("Exp", [this.g.mul(this.g.mul(x.name, x.name), this.scalarConst(-0.5))]), this.scalarConst(1 / Math.sqrt(2 * Math.PI)));
      return [this.g.mul(dy, this.g.add(cdf, this.g.mul(x.name, pdf)))];
    });
  }

  /**
   * LayerNorm over the last axis: y = (x − μ)·σ⁻¹·γ + β with σ = √(var + eps), as BERT's. With
   * x̂ = (x − μ)σ⁻¹ and g = dy·γ: dx = σ⁻¹·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ dy·x̂; dβ = Σ dy (sums over
   * every axis but the last). μ and σ⁻¹ come out of the forward op, not recomputed.
   */
  layerNorm(x: Value, gamma: Value, beta: Value, eps: number): Value {
    const last = x.shape.length - 1;
    const [y, mean, invStd] = this.layerNormForward(x.name, gamma.name, beta.name, eps, last);
    const out = { name: y, shape: x.shape };
    return this.record([x, gamma, beta], out, (dy) => {
      const xhat = this.g.mul(this.g.sub(x.name, mean), invStd);
      const gx = this.g.mul(dy, gamma.name);
      const meanG = this.g.reduceMean(gx, [last], true);
      const meanGx = this.g.reduceMean(this.g.mul(gx, xhat), [last], true);
      const dx = this.isLive(x) ? this.g.mul(invStd, this.g.sub(this.g.sub(gx, meanG), this.g.mul(xhat, meanGx))) : null;
      const dGamma = this.isLive(gamma) ? this.sumTo(this.g.mul(dy, xhat), x.shape, gamma) : null;
      const dBeta = this.isLive(beta) ? this.sumTo(dy, x.shape, beta) : null;
      return [dx, dGamma, dBeta];
    });
  }

  /**
   * LayerNorm's output, mean and inverse standard deviation. FLOAT: onnxruntime's fused op, which
   * returns all three. DOUBLE (gradient checks): onnxruntime has no double kernel, so the same
   * formula in primitive ops.
   */
  private layerNormForward(x: string, gamma: string, beta: string, eps: number, last: number): [string, string, string] {
    if (this.dtype === DataType.FLOAT) {
      return this.g.node("LayerNormalization", [x, gamma, beta], { axis: attr.int(-1), epsilon: attr.float(eps) }, { outputs: 3 }) as [string, string, string];
    }
    const mean = this.g.reduceMean(x, [last], true);
    const centred = this.g.sub(x, mean);
    const variance = this.g.reduceMean(this.g.mul(centred, centred), [last], true);
    const invStd = this.g.op("Reciprocal", [this.g.sqrt(this.g.add(variance, this.scalarConst(eps)))]);
    return [this.g.add(this.g.mul(this.g.mul(centred, invStd), gamma), beta), mean, invStd];
  }

  /**
   * Row-wise L2 normalisation over the last axis: y = x / max(‖x‖, eps) (torch's F.normalize).
   * dx = (dy − y·Σ(dy·y)) / ‖x‖ where ‖x‖ > eps (rows that small do not occur in ColBERT outputs).
   */
  l2Normalize(x: Value, eps = 1e-12): Value {
    const last = x.shape.length - 1;
    const norm = this.g.max(this.g.sqrt(this.g.reduceSum(this.g.mul(x.name, x.name), [last], true)), this.scalarConst(eps));
    const out = { name: this.g.div(x.name, norm), shape: x.shape };
    return this.record([x], out, (dy) => [this.g.div(this.g.sub(dy, this.g.mul(out.name, this.g.reduceSum(this.g.mul(dy, out.name), [last], true))), norm)]);
  }

  /** Σ over `axes` (keepdims as ONNX). The gradient is broadcast back. */
  reduceSum(x: Value, axes: readonly number[], keepdims = false): Value {
    const ax = axes.map((a) => normAxis(a, x.shape.length));
    const shape = x.shape.flatMap((d, i) => (ax.includes(i) ? (keepdims ? [1] : []) : [d]));
    const out = { name: this.g.reduceSum(x.name, ax, keepdims), shape };
    return this.record([x], out, (dy) => {
      const kept = keepdims ? dy : this.g.unsqueeze(dy, ax);
      return [this.g.expand(kept, this.g.shape(x.name))];
    });
  }

  /** Mean over `axes` (keepdims as ONNX). */
  reduceMean(x: Value, axes: readonly number[], keepdims = false): Value {
    const ax = axes.map((a) => normAxis(a, x.shape.length));
    const sum = this.reduceSum(x, ax, keepdims);
    const count = this.g.cast(this.g.reduceProd(this.g.gather(this.g.shape(x.name), this.g.int64s(ax)), [0], false), this.dtype);
    const out = { name: this.g.div(sum.name, count), shape: sum.shape };
    return this.record([sum], out, (dy) => [this.g.div(dy, count)]);
  }

  /**
   * Inverted dropout with a given keep mask: y = x · mask / (1 − p), mask a uint8 graph input (1 keeps,
   * 0 drops) of x's shape or broadcastable to it, drawn by the caller so a run can be repeated exactly
   * (the backward pass recomputes the forward with the same masks). dx = dy · mask / (1 − p).
   */
  dropout(x: Value, mask: string, p: number): Value {
    if (!(p >= 0 && p < 1)) throw new ColtsError("INPUT_INVALID", `dropout probability must be in [0, 1), got ${p}`);
    const keep = this.g.mul(this.g.cast(mask, this.dtype), this.scalarConst(1 / (1 - p)));
    const out = { name: this.g.mul(x.name, keep), shape: x.shape };
    return this.record([x], out, (dy) => [this.g.mul(dy, keep)]);
  }

  /** A uint8 graph input (dropout masks); returns its name. */
  bytes(name: string, shape: readonly Dim[]): string {
    return this.g.input(name, DataType.UINT8, [...shape]);
  }

  /** tanh(x) (PyLate's Dense activation). dx = dy·(1 − y²). */
  tanh(x: Value): Value {
    const out = { name: this.g.op("Tanh", [x.name]), shape: x.shape };
    return this.record([x], out, (dy) => [this.g.mul(dy, this.g.sub(this.scalarConst(1), this.g.mul(out.name, out.name)))]);
  }

  /**
   * The first `width` entries of the last axis (a Matryoshka truncation). The gradient is padded back
   * with zeros to the full width.
   */
  sliceLast(x: Value, width: number): Value {
    const full = x.shape[x.shape.length - 1];
    if (typeof full !== "number" || !Number.isInteger(width) || width < 1 || width > full) throw new ColtsError("INPUT_INVALID", `sliceLast: width ${width} of a last axis of ${String(full)}`);
    if (width === full) return x;
    const last = x.shape.length - 1;
    const out = { name: this.g.slice(x.name, [0], [width], [last]), shape: [...x.shape.slice(0, -1), width] };
    const pads = Array.from({ length: 2 * x.shape.length }, (_, i) => (i === x.shape.length + last ? full - width : 0));
    return this.record([x], out, (dy) => [this.g.op("Pad", [dy, this.g.int64s(pads)])]);
  }

  /**
   * Maximum over `axis` (dropped). The gradient goes to the arg-max alone (the first on ties), as
   * torch's max(dim) routes it: for MaxSim, to the best-matching document token.
   */
  maxOver(x: Value, axis: number): Value {
    const ax = normAxis(axis, x.shape.length);
    const shape = x.shape.filter((_, i) => i !== ax);
    const out = { name: this.g.reduceMax(x.name, [ax], false), shape };
    return this.record([x], out, (dy) => {
      const arg = this.g.argMax(x.name, ax, false);
      const depth = this.g.gather(this.g.shape(x.name), this.g.int64s([ax]));
      const hot = this.g.op("OneHot", [arg, depth, this.g.floats([0, 1])], { axis: attr.int(ax) });
      const mask = this.dtype === DataType.FLOAT ? hot : this.g.cast(hot, this.dtype);
      return [this.g.mul(mask, this.g.unsqueeze(dy, [ax]))];
    });
  }

  /**
   * Appends the gradient nodes of `seeds` (each a value and the name of its incoming gradient, a
   * graph input or constant of the value's shape) and returns the gradient of each of `wrt` (a zero
   * tensor where none flows). Gradients reaching a value along several paths are added.
   */
  gradients(seeds: readonly { value: Value; grad: string }[], wrt: readonly Value[]): string[] {
    const grads = new Map<string, string>();
    const accumulate = (name: string, g: string): void => {
      const prev = grads.get(name);
      grads.set(name, prev === undefined ? g : this.g.add(prev, g));
    };
    for (const s of seeds) accumulate(s.value.name, s.grad);
    for (let i = this.tape.length - 1; i >= 0; i--) {
      const entry = this.tape[i] as TapeEntry;
      const dy = grads.get(entry.output.name);
      if (dy === undefined) continue;
      const dxs = entry.vjp(dy);
      entry.inputs.forEach((input, j) => {
        const dx = dxs[j];
        if (dx !== null && dx !== undefined && this.live.has(input.name)) accumulate(input.name, dx);
      });
    }
    return wrt.map((v) => grads.get(v.name) ?? this.zerosLike(v));
  }

  /** Gradients of a scalar `loss` (shape [] or all ones) with respect to `wrt`: seeds dL/dL = 1. */
  gradientsOf(loss: Value, wrt: readonly Value[]): string[] {
    const one = this.g.expand(this.scalarConst(1), this.g.shape(loss.name));
    return this.gradients([{ value: loss, grad: one }], wrt);
  }

  /** The ONNX model (call after declaring outputs). */
  toModel(producer = "colts autodiff"): OnnxModel {
    return this.g.toModel({ producer });
  }
}
