/**
 * What ColbertTokenizer needs from a tokenizer: `tokenizer.json` through @huggingface/tokenizers by
 * default, or another implementation (text/bert-japanese.ts for BertJapaneseTokenizer, which has no
 * `tokenizer.json`).
 */
export interface TokenizerBackend {
  /** Ids of a text, with the post-processor's special tokens when `addSpecialTokens`. */
  encode(text: string, addSpecialTokens: boolean): number[];
  /** Id of a token string (a vocabulary entry, not text), undefined when the vocabulary lacks it. */
  tokenToId(token: string): number | undefined;
  /** Token string of an id, undefined when out of range. */
  idToToken(id: number): string | undefined;
  /** Vocabulary size, added tokens included. */
  readonly vocabSize: number;
}
