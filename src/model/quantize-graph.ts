/**
 * int8 dynamic quantization of an existing ONNX graph, the rewrite onnxruntime's quantize_dynamic
 * does with its defaults for weight type QInt8 (per-tensor, symmetric weights, MatMulConstBOnly):
 *
 *   Y = MatMul(A, W)   with W a 2-D float32 initializer
 *   ->  A_q, A_scale, A_zp = DynamicQuantizeLinear(A)          uint8, asymmetric, per tensor, per run
 *       Y_i = MatMulInteger(A_q, W_q, A_zp, W_zp)               int32; W_q int8 = round(W / W_scale), W_zp = 0
 *       Y   = Mul(Cast<float>(Y_i), Mul(A_scale, W_scale))
 *
 * One DynamicQuantizeLinear per activation, shared by every MatMul that reads it (a BERT layer's
 * query, key and value projections quantize their input once); one quantized initializer per weight.
 * MatMuls of two activations (attention scores) stay float, as quantize_dynamic leaves them with
 * MatMulConstBOnly. Gemm stays float too: quantize_dynamic has no integer Gemm (its IntegerOps
 * registry quantizes Conv, MatMul, Attention, LSTM and Gather only), and BERT exports from torch
 * use MatMul + Add for every Linear, so there is nothing to gain and a divergence from the reference
 * tool to lose. Every other node, initializer, input, output, value_info and opset import is kept
 * as it was; float weights that no node reads any more are removed.
 */
import { ColtsError } from "../errors.js";
import { DataType, type OnnxModel, type OnnxNode, type OnnxTensor } from "../runtime/onnx/proto.js";
import { quantizeInt8Symmetric } from "./bert-graph.js";

/** What `quantizeGraphInt8` did. */
export interface QuantizeGraphResult {
  /** The rewritten model (shares unchanged tensors and nodes with the input; the input is not modified). */
  model: OnnxModel;
  /** Names (or output names, for unnamed nodes) of the MatMuls that now run on int8. */
  quantized: string[];
  /** Gemm nodes left in float (see the file comment). */
  gemmLeftFloat: number;
}

/** DynamicQuantizeLinear and MatMulInteger exist from opset 11 of the default domain. */
const MIN_OPSET = 11;

/** Fresh value and node names: the hint itself, else hint_1, hint_2, ... (as GraphBuilder names). */
function namer(model: OnnxModel): (hint: string) => string {
  const used = new Set<string>();
  const g = model.graph;
  for (const n of g.nodes) {
    for (const v of [...n.inputs, ...n.outputs]) used.add(v);
    if (n.name) used.add(n.name);
  }
  for (const v of [...g.initializers, ...g.inputs, ...g.outputs, ...(g.valueInfo ?? [])]) used.add(v.name);
  return (hint) => {
    let name = hint;
    for (let i = 1; used.has(name); i++) name = `${hint}_${i}`;
    used.add(name);
    return name;
  };
}

/** The model's default-domain opset; ONNX_INVALID when it predates the integer ops. */
function checkOpset(model: OnnxModel): void {
  const opset = model.opsetImports.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0;
  if (opset < MIN_OPSET) {
    throw new ColtsError("ONNX_INVALID", `the graph imports opset ${opset} of the default domain; int8 quantization needs ${MIN_OPSET} or later (DynamicQuantizeLinear)`, {
      details: { opset },
    });
  }
}

/** The quantized form of one float weight: its int8 initializer, scale and zero point. */
interface QuantizedWeight {
  q: string;
  scale: string;
  zeroPoint: string;
  tensors: OnnxTensor[];
}

/**
 * Rewrites every MatMul of `model` whose second input is a 2-D float32 initializer (and not also a
 * graph input, which a caller could override, so it is no constant) into the int8 form above. Throws ONNX_INVALID when the
 * default opset is below 11 and MODEL_NOT_FOUND when there is no such MatMul (nothing to quantize:
 * the graph may already be quantized, or keep its weights in Constant nodes).
 */
export function quantizeGraphInt8(model: OnnxModel): QuantizeGraphResult {
  checkOpset(model);
  const g = model.graph;
  const fresh = namer(model);
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  const floatWeights = new Map<string, OnnxTensor>();
  for (const t of g.initializers) {
    if (t.dataType === DataType.FLOAT && t.dims.length === 2 && t.data instanceof Float32Array && !graphInputs.has(t.name)) floatWeights.set(t.name, t);
  }
  const initializerNames = new Set(g.initializers.map((t) => t.name));
  const activations = new Map<string, [string, string, string]>(); // A -> [A_q, A_scale, A_zp]
  const weights = new Map<string, QuantizedWeight>();
  const nodes: OnnxNode[] = [];
  const quantized: string[] = [];
  let gemmLeftFloat = 0;
  for (const node of g.nodes) {
    const isDefault = node.domain === undefined || node.domain === "" || node.domain === "ai.onnx";
    if (isDefault && node.opType === "Gemm") gemmLeftFloat++;
    const [a, w] = node.inputs;
    const weight = w === undefined ? undefined : floatWeights.get(w);
    if (!isDefault || node.opType !== "MatMul" || a === undefined || a === "" || initializerNames.has(a) || !weight || node.outputs.length !== 1) {
      nodes.push(node);
      continue;
    }
    let aq = activations.get(a);
    if (!aq) {
      aq = [fresh(`${a}_quantized`), fresh(`${a}_scale`), fresh(`${a}_zero_point`)];
      activations.set(a, aq);
      nodes.push({ opType: "DynamicQuantizeLinear", inputs: [a], outputs: [...aq], name: fresh(`${a}_QuantizeLinear`) });
    }
    let wq = weights.get(weight.name);
    if (!wq) {
      const { q, scale } = quantizeInt8Symmetric(weight.data as Float32Array);
      const names = { q: fresh(`${weight.name}_quantized`), scale: fresh(`${weight.name}_scale`), zeroPoint: fresh(`${weight.name}_zero_point`) };
      wq = {
        ...names,
        tensors: [
          { name: names.q, dataType: DataType.INT8, dims: weight.dims.slice(), data: q },
          { name: names.scale, dataType: DataType.FLOAT, dims: [], data: Float32Array.of(scale) },
          { name: names.zeroPoint, dataType: DataType.INT8, dims: [], data: Int8Array.of(0) },
        ],
      };
      weights.set(weight.name, wq);
    }
    const y = node.outputs[0] as string;
    const base = node.name ? `${node.name}_quant` : y;
    const integer = fresh(`${y}_output_quantized`);
    const cast = fresh(`${integer}_cast_output`);
    const scales = fresh(`${base}_scales_mul_output`);
    nodes.push(
      { opType: "MatMulInteger", inputs: [aq[0], wq.q, aq[2], wq.zeroPoint], outputs: [integer], name: fresh(base) },
      { opType: "Cast", inputs: [integer], outputs: [cast], name: fresh(`${integer}_cast`), attributes: [{ name: "to", type: "int", value: DataType.FLOAT }] },
      { opType: "Mul", inputs: [aq[1], wq.scale], outputs: [scales], name: fresh(`${base}_scales_mul`) },
      { opType: "Mul", inputs: [cast, scales], outputs: [y], name: fresh(`${base}_output_scale_mul`) },
    );
    quantized.push(node.name || y);
  }
  if (quantized.length === 0) {
    // Exporters that keep initializers as inputs make every weight overridable: say so rather than guess.
    const overridable = g.nodes.filter((n) => n.opType === "MatMul" && graphInputs.has(n.inputs[1] ?? "") && initializerNames.has(n.inputs[1] ?? "")).length;
    throw new ColtsError(
      "MODEL_NOT_FOUND",
      overridable > 0
        ? `the graph's ${overridable} MatMul weights are also graph inputs (exported with initializers as inputs), so they are not constants: re-export without keep_initializers_as_inputs`
        : "the graph has no MatMul with a 2-D float32 weight initializer: nothing to quantize (is it already quantized?)",
    );
  }
  // Quantized weights take the place of the float ones; a float weight some other node still reads stays.
  const stillRead = new Set([...nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  const initializers = g.initializers.flatMap((t) => {
    const wq = weights.get(t.name);
    if (!wq) return [t];
    return stillRead.has(t.name) ? [t, ...wq.tensors] : wq.tensors;
  });
  return { model: { ...model, graph: { ...g, nodes, initializers } }, quantized, gemmLeftFloat };
}
