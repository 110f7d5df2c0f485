/** `colts/model`: checkpoint resolution (local folder or hub), layouts and settings, safetensors, BERT weights and graphs. Re-exports only. */
export { resolveHubSettings, snapshotDownload, downloadFile, listRepoFiles, isHubId, type HubOptions, type HubSettings, type DownloadProgress } from "./hub.js";
export { readModelFolder, type ModelSpec, type LayoutKind, type LayoutOptions, type DenseLayer } from "./layout.js";
export { resolveModelDir, parseModelId } from "./resolve.js";
export { ASCII_PUNCTUATION, DEFAULT_SETTINGS, type ColbertSettings } from "./settings.js";
export { parseSafetensors, serializeSafetensors, type SafeTensor, type TensorToWrite, type SafetensorsDtype } from "./safetensors.js";
export { readColbertCheckpoint, writeColbertCheckpoint, TOKENIZER_FILES, type ColbertCheckpoint, type WriteCheckpointOptions } from "./checkpoint.js";
export { buildBertOnnx, type BertOnnxOptions, type SequenceClassifierWeights } from "./bert-graph.js";
export { randomBertWeights, bertConfigFromHf, bertConfigToHf, type BertConfig, type BertWeights } from "./bert-weights.js";
export { quantizeModel, INT8_GRAPH, type QuantizeModelOptions, type QuantizeModelResult } from "./quantize.js";
export { quantizeGraphInt8, type QuantizeGraphResult } from "./quantize-graph.js";
