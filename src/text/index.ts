/** `colts/text`: tokenizers below ColBERT's conventions (WordPiece, MeCab, BertJapanese). Re-exports only. */
export type { TokenizerBackend } from "./backend.js";
export { BertJapaneseTokenizer, japaneseVocab, type BertJapaneseOptions } from "./bert-japanese.js";
export { MecabTokenizer, type MecabWord, type MecabOptions } from "./mecab.js";
export { loadMecabDictionary, type MecabDictionaryFiles } from "./mecab-dict.js";
export { WordPiece, type WordPieceOptions } from "./wordpiece.js";
