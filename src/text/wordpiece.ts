/**
 * WordPiece as transformers' slow `WordpieceTokenizer` (used by BertJapaneseTokenizer): each
 * whitespace-separated token is split greedily, longest vocabulary match first, continuation pieces
 * prefixed with "##"; a token with an unmatchable rest, or longer than `maxInputCharsPerWord`
 * characters, becomes the unknown token as a whole.
 */
export interface WordPieceOptions {
  /** Unknown token. Default "[UNK]". */
  unkToken?: string;
  /** Tokens longer than this many characters (code points) become unknown. Default 100 (transformers). */
  maxInputCharsPerWord?: number;
}

/** Greedy longest-match-first WordPiece over a fixed vocabulary (see the file comment). */
export class WordPiece {
  /** Token -> id (a token listed twice keeps its last id). */
  readonly ids: ReadonlyMap<string, number>;
  /** Id of the unknown token. */
  readonly unkId: number;
  private readonly maxChars: number;

  /** Throws RangeError when the vocabulary lacks the unknown token. */
  constructor(
    /** The vocabulary, one token per id (continuation pieces start with "##"). */
    readonly vocab: readonly string[],
    opts: WordPieceOptions = {},
  ) {
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    const unk = this.ids.get(opts.unkToken ?? "[UNK]");
    if (unk === undefined) throw new RangeError(`vocabulary has no unknown token ${opts.unkToken ?? "[UNK]"}`);
    this.unkId = unk;
    this.maxChars = opts.maxInputCharsPerWord ?? 100;
  }

  /** Ids of one word (whitespace inside it splits it further, as `whitespace_tokenize`). */
  encodeWord(word: string): number[] {
    const out: number[] = [];
    for (const token of word.split(/\s+/)) if (token !== "") this.encodeToken(token, out);
    return out;
  }

  private encodeToken(token: string, out: number[]): void {
    const chars = [...token];
    if (chars.length > this.maxChars) {
      out.push(this.unkId);
      return;
    }
    const pieces: number[] = [];
    for (let start = 0; start < chars.length; ) {
      let end = chars.length;
      let found: number | undefined;
      for (; end > start; end--) {
        const sub = (start > 0 ? "##" : "") + chars.slice(start, end).join("");
        found = this.ids.get(sub);
        if (found !== undefined) break;
      }
      if (found === undefined) {
        out.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    out.push(...pieces);
  }
}
