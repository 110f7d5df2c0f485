/**
 * `colts/testing`: generated models for tests and benchmarks (seeded random weights, no download) and
 * a float64 reference of the BERT forward pass. Re-exports only.
 */
export { writeTinyModel, bertBaseUncasedVocab, type TinyModelOptions, type TinyLayout, type TinyArch } from "./tiny-model.js";
export { writeTinyCrossEncoder, tinyCrossEncoderWeights, type TinyCrossEncoderOptions } from "./tiny-cross-encoder.js";
export { bertTokenizerFiles, type BertTokenizerFiles, type BertTokenizerOptions } from "./bert-tokenizer.js";
export { xlmrTokenizerFiles, XLMR_MARKERS, type XlmrTokenizerFiles } from "./xlmr-tokenizer.js";
export { bertForward, type BertBatch, type BertForwardOptions } from "./bert-reference.js";
