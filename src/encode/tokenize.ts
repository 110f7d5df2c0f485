/**
 * ColBERT's input conventions on top of a Hugging Face `tokenizer.json` (tokenized by the maintained
 * `@huggingface/tokenizers` package). Pure data code: the files are read by the caller.
 *
 * Layout, as PyLate's `ColBERT.preprocess` and Stanford's Query/DocTokenizer build it:
 *   query:    [CLS] [Q-marker] q1 ... qn [SEP] [MASK] ... [MASK]   exactly queryLength tokens
 *   document: [CLS] [D-marker] d1 ... dm [SEP]                      at most documentLength tokens
 * The text is truncated *before* the marker is inserted so that the marker counts towards the limit
 * (the tokenizer runs with max_length = length - 1). Expansion tokens are the mask token, attended
 * only when `attendToExpansionTokens`. Which outputs are kept:
 *   query with expansion: every position; query without: attended positions;
 *   document: attended positions whose id is not in the skiplist.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { ColtsError } from "../errors.js";
import type { TokenizerBackend } from "../text/backend.js";
import type { ModelSpec } from "../model/layout.js";
import type { ColbertSettings } from "../model/settings.js";
import { BertJapaneseTokenizer, isBertJapanese } from "../text/bert-japanese.js";

/** One text laid out for the model. All arrays have the same length. */
export interface TokenizedText {
  /** Token ids, markers and specials included. */
  ids: number[];
  /** Attention mask (1 = attended). */
  attention: number[];
  /** 1 where the model output is kept as a vector of this text. */
  keep: number[];
}

type Json = Record<string, unknown>;

/** @huggingface/tokenizers over a `tokenizer.json`. */
export function huggingFaceBackend(tokenizerJson: Json, tokenizerConfig: Json): TokenizerBackend {
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (cause) {
    throw new ColtsError("TOKENIZER_INVALID", `tokenizer.json could not be loaded: ${String(cause)}`, { cause });
  }
  return {
    encode: (text, addSpecialTokens) => tok.encode(text, { add_special_tokens: addSpecialTokens }).ids,
    tokenToId: (token) => tok.token_to_id(token) ?? undefined,
    idToToken: (id) => tok.id_to_token(id) ?? undefined,
    get vocabSize() {
      return tok.get_vocab(true).size;
    },
  };
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && typeof (v as Json)["content"] === "string") return (v as Json)["content"] as string;
  return undefined;
}

/** Lays texts out as ColBERT queries and documents (markers, truncation, expansion, kept positions; see the file comment). */
export class ColbertTokenizer {
  /** The conventions it lays texts out by. */
  readonly settings: ColbertSettings;
  /** Id used to expand queries (mask token; PyLate falls back to EOS, then pad). */
  readonly expansionId: number;
  /** Id used to pad batches; its outputs are never kept, so its value only has to be a valid id. */
  readonly padId: number;
  /** Id of the query marker inserted after the first special token, or null when queries have none. */
  readonly queryPrefixId: number | null;
  /** Id of the document marker, or null when documents have none. */
  readonly documentPrefixId: number | null;
  /** Ids removed from document outputs. */
  readonly skiplist: ReadonlySet<number>;
  /** Special tokens the tokenizer's post-processor puts before / after a single text. */
  private readonly before: number[];
  private readonly after: number[];
  private readonly tok: TokenizerBackend;

  /** `backend` replaces the tokenizer.json one (BertJapaneseTokenizer); tokenizerJson is then unused. */
  constructor(tokenizerJson: Json, tokenizerConfig: Json, settings: ColbertSettings, backend?: TokenizerBackend) {
    this.tok = backend ?? huggingFaceBackend(tokenizerJson, tokenizerConfig);
    this.settings = settings;
    [this.before, this.after] = this.specialsAround();
    this.expansionId = this.firstKnown([tokenizerConfig["mask_token"], "[MASK]", "<mask>", tokenizerConfig["eos_token"], tokenizerConfig["pad_token"]], "mask token");
    this.padId = this.firstKnown([tokenizerConfig["pad_token"], "[PAD]", "<pad>", tokenizerConfig["mask_token"], "[MASK]", "<mask>"], "pad token");
    this.queryPrefixId = this.prefixId(settings.queryPrefix, "query");
    this.documentPrefixId = this.prefixId(settings.documentPrefix, "document");
    // PyLate: convert_tokens_to_ids(word); a word that is not a token maps to the unknown-token id.
    const unk = this.tok.tokenToId(tokenName(tokenizerConfig["unk_token"]) ?? "[UNK]");
    this.skiplist = new Set(
      settings.skiplistWords.map((w) => this.tok.tokenToId(w) ?? unk).filter((id): id is number => id !== undefined),
    );
    const limits = [
      ["queryLength", settings.queryLength, settings.queryPrefix],
      ["documentLength", settings.documentLength, settings.documentPrefix],
    ] as const;
    for (const [name, len, prefix] of limits) {
      if (!Number.isInteger(len) || this.contentRoom(len, prefix) < 1) {
        throw new ColtsError("CONFIG_INVALID", `${name} ${len} leaves no room for text after markers and special tokens`);
      }
    }
  }

  /** Vocabulary size, added tokens included. */
  get vocabSize(): number {
    return this.tok.vocabSize;
  }

  /** The token string of an id; `<id>` for an id the vocabulary lacks. */
  idToToken(id: number): string {
    return this.tok.idToToken(id) ?? `<${id}>`;
  }

  /** Query layout (see file comment). */
  tokenizeQuery(text: string): TokenizedText {
    const s = this.settings;
    const row = this.layout(text, s.queryLength, this.queryPrefixId);
    if (!s.doQueryExpansion) return { ...row, keep: row.attention.slice() };
    const attendExpansion = s.attendToExpansionTokens ? 1 : 0;
    while (row.ids.length < s.queryLength) {
      row.ids.push(this.expansionId);
      row.attention.push(attendExpansion);
    }
    return { ...row, keep: row.ids.map(() => 1) };
  }

  /** Document layout (see file comment). */
  tokenizeDocument(text: string): TokenizedText {
    const row = this.layout(text, this.settings.documentLength, this.documentPrefixId);
    return { ...row, keep: row.ids.map((id) => (this.skiplist.has(id) ? 0 : 1)) };
  }

  /** Content tokens only (no specials, no marker), for explanations and tests. */
  encodeContent(text: string): number[] {
    return this.tok.encode(text, false);
  }

  private layout(text: string, maxLength: number, prefixId: number | null): { ids: number[]; attention: number[] } {
    // Sentence-Transformers strips surrounding whitespace (and lower-cases if configured) first.
    const prepared = this.settings.lowercase ? text.trim().toLowerCase() : text.trim();
    const content = this.encodeContent(prepared).slice(0, this.contentRoom(maxLength, prefixId === null ? null : ""));
    const ids = [...this.before, ...content, ...this.after];
    if (prefixId !== null) ids.splice(1, 0, prefixId);
    return { ids, attention: ids.map(() => 1) };
  }

  private contentRoom(maxLength: number, prefix: string | null): number {
    return maxLength - (prefix === null ? 0 : 1) - this.before.length - this.after.length;
  }

  /** Finds the special tokens the post-processor wraps a single text in, by encoding a probe both ways. */
  private specialsAround(): [number[], number[]] {
    const plain: number[] = this.tok.encode("probe text", false);
    const full: number[] = this.tok.encode("probe text", true);
    for (let i = 0; i + plain.length <= full.length; i++) {
      if (plain.every((id: number, j: number) => full[i + j] === id)) return [full.slice(0, i), full.slice(i + plain.length)];
    }
    throw new ColtsError("TOKENIZER_INVALID", "cannot locate the text among the special tokens of the post-processor");
  }

  private firstKnown(candidates: unknown[], what: string): number {
    for (const c of candidates) {
      const name = tokenName(c);
      const id = name === undefined ? undefined : this.tok.tokenToId(name);
      if (id !== undefined) return id;
    }
    throw new ColtsError("TOKENIZER_INVALID", `the tokenizer has no ${what} (tried ${candidates.map((c) => tokenName(c) ?? "-").join(", ")})`);
  }

  private prefixId(prefix: string | null, kind: string): number | null {
    if (prefix === null) return null;
    const id = this.tok.tokenToId(prefix);
    if (id === undefined) {
      throw new ColtsError("CONFIG_INVALID", `${kind} prefix "${prefix}" is not a token of this tokenizer; set ${kind}Prefix to a token it has, or null`, {
        details: { prefix },
      });
    }
    return id;
  }
}

/** The tokenizer of a model folder: tokenizer.json, or BertJapaneseTokenizer (loads its MeCab dictionary). */
export function tokenizerForSpec(spec: ModelSpec): ColbertTokenizer {
  const backend = isBertJapanese(spec.tokenizerConfig)
    ? BertJapaneseTokenizer.load(spec.vocab ?? [], spec.tokenizerConfig, { modelDir: spec.dir, ...(spec.mecabDicDir ? { mecabDicDir: spec.mecabDicDir } : {}) })
    : undefined;
  return new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings, backend);
}
