/**
 * Writes the Hugging Face tokenizer files of an uncased BERT WordPiece tokenizer from a vocab list,
 * in the same form as bert-base-uncased's `tokenizer.json` (BertNormalizer lowercase, BertPreTokenizer,
 * WordPiece "##", [CLS] A [SEP] template). Used by generated test models and by training export.
 * Pure data: returns JSON objects with a fixed key order (same vocab, same bytes).
 */
export interface BertTokenizerFiles {
  /** Content of tokenizer.json. */
  tokenizerJson: Record<string, unknown>;
  /** Content of tokenizer_config.json. */
  tokenizerConfig: Record<string, unknown>;
  /** Content of special_tokens_map.json. */
  specialTokensMap: Record<string, unknown>;
}

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

/** Options of `bertTokenizerFiles`. */
export interface BertTokenizerOptions {
  /** Non-special tokens registered as added tokens (ColBERT markers, e.g. "[unused0]", "[unused1]"). */
  markers?: string[];
  /** model_max_length written to tokenizer_config.json. Default 512. */
  modelMaxLength?: number;
}

/**
 * The tokenizer files for `vocab` (see the file comment). The vocab must hold [PAD], [UNK], [CLS],
 * [SEP], [MASK] and every marker (RangeError otherwise).
 */
export function bertTokenizerFiles(vocab: readonly string[], opts: BertTokenizerOptions = {}): BertTokenizerFiles {
  const ids = new Map(vocab.map((t, i) => [t, i]));
  const idOf = (t: string): number => {
    const id = ids.get(t);
    if (id === undefined) throw new RangeError(`vocab lacks ${t}`);
    return id;
  };
  const markers = opts.markers ?? [];
  const added = [...SPECIALS.map((t) => ({ t, special: true })), ...markers.map((t) => ({ t, special: false }))]
    .map(({ t, special }) => ({ id: idOf(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: !special, special }))
    .sort((a, b) => a.id - b.id);
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [idOf("[CLS]")], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [idOf("[SEP]")], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
  const tokenizerConfig = {
    clean_up_tokenization_spaces: true,
    cls_token: "[CLS]",
    do_basic_tokenize: true,
    do_lower_case: true,
    mask_token: "[MASK]",
    model_max_length: opts.modelMaxLength ?? 512,
    never_split: null,
    pad_token: "[MASK]",
    sep_token: "[SEP]",
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: "BertTokenizer",
    unk_token: "[UNK]",
  };
  const specialTokensMap = { cls_token: "[CLS]", mask_token: "[MASK]", pad_token: "[MASK]", sep_token: "[SEP]", unk_token: "[UNK]" };
  return { tokenizerJson, tokenizerConfig, specialTokensMap };
}
