/**
 * Types for the part of @huggingface/tokenizers that colts uses. The package's own .d.ts files use
 * extensionless relative imports, which TypeScript's NodeNext resolution cannot follow, so its
 * exports would otherwise be typed as errors.
 */
declare module "@huggingface/tokenizers" {
  export interface Encoding {
    ids: number[];
    tokens: string[];
    attention_mask: number[];
    token_type_ids?: number[];
  }
  export class Tokenizer {
    constructor(tokenizerJson: object, tokenizerConfig: object);
    encode(text: string, options?: { text_pair?: string | null; add_special_tokens?: boolean; return_token_type_ids?: boolean | null }): Encoding;
    decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
    token_to_id(token: string): number | undefined;
    id_to_token(id: number): string | undefined;
    get_vocab(withAddedTokens?: boolean): Map<string, number>;
  }
}
