/** `colts/encode`: the encoder's parts below `ColBERT` (tokenizer conventions, in-process encoder, batching). Re-exports only. */
export { ColbertTokenizer, type TokenizedText } from "./tokenize.js";
export { InProcessEncoder, planBatches, type EncodeOptions } from "./encoder.js";
export { layoutPair, type PairTokens } from "./cross-encoder.js";
