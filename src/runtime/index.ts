/**
 * `colts/runtime`: the onnxruntime layer (the only code that imports onnxruntime-node): sessions, the
 * ONNX writer and graph builder, and the compute kernels. Re-exports only.
 */
export { OnnxSession, type RuntimeOptions, type InputTensor, type OutputTensor, type ValueInfo } from "./session.js";
export { GraphBuilder } from "./onnx/builder.js";
export { encodeModel, type OnnxModel } from "./onnx/proto.js";
export { writeOnnxModel } from "./onnx/write.js";
export { OrtMatmul, OrtMatmulDynamic, matmulABtJs } from "./kernels/matmul.js";
export { DiffGraph, type Value, type FloatType, type DiffGraphOptions } from "./autodiff/diff-graph.js";
