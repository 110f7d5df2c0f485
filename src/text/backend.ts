/**
 * What ColbertTokenizer needs from a tokenizer: `tokenizer.json` through @huggingface/tokenizers by
 * default, or another implementation (text/bert-japanese.ts for BertJapaneseTokenizer, which has no
 * `tokenizer.json`).
 */
export interface TokenizerBackend {
  /** Ids of a text, with the post-processor's special tokens when `addSpecialTokens`. */
  encode(text: string, addSpecialTokens: boolean): number[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Vocabulary size, added tokens included. */
  readonly vocabSize: number;
}
