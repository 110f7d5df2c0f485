/**
 * Hugging Face tokenizer files of an XLM-RoBERTa-shaped SentencePiece Unigram tokenizer, generated
 * deterministically for test models (Jina-ColBERT-v2 conventions): `<s>`=0 `<pad>`=1 `</s>`=2
 * `<unk>`=3 as in XLM-R, then a small fixed vocabulary (ASCII characters, "▁"-prefixed characters
 * and common words of a few languages, kana), `<mask>` last, then the ColBERT markers
 * `[QueryMarker]` / `[DocumentMarker]` as added tokens (Jina-ColBERT-v2 has them at 250002 / 250003,
 * right after `<mask>` = 250001). Template `<s> A </s>`, Metaspace pre-tokenizer, NFKC normaliser
 * (standing in for the real model's precompiled SentencePiece charsmap, which is NFKC-based).
 * Pure data: same call, same JSON.
 */
/** The generated tokenizer: file contents, and its vocabulary for tests. */
export interface XlmrTokenizerFiles {
  /** Content of tokenizer.json. */
  tokenizerJson: Record<string, unknown>;
  /** Content of tokenizer_config.json. */
  tokenizerConfig: Record<string, unknown>;
  /** Content of special_tokens_map.json. */
  specialTokensMap: Record<string, unknown>;
  /** Number of ids (model vocabulary + markers), i.e. the embedding table size. */
  vocabSize: number;
  /** Id of every piece, special token and marker. */
  ids: ReadonlyMap<string, number>;
}

/** The query and document markers, added after `<mask>` as Jina-ColBERT-v2 has them. */
export const XLMR_MARKERS = ["[QueryMarker]", "[DocumentMarker]"] as const;
const SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"] as const;
/** A few frequent words per language so that real text gets word-level pieces. */
const WORDS = (
  "the of and to in is was for on that with as by at from it an be are this which or his her they " +
  "what who where when how why capital city country france paris germany berlin japan tokyo river " +
  "der die das und ist nicht ein eine le la les et est une des el los las que en un una por " +
  "東京 日本 京都 大阪 梅雨 北海道 首都 国 川 山 人 年 月 日"
).split(" ");

/** The Unigram pieces with their log-probabilities, in id order after the four specials. */
function pieces(): [string, number][] {
  const out: [string, number][] = [["▁", -3]];
  for (let c = 0x21; c < 0x7f; c++) {
    const ch = String.fromCharCode(c);
    out.push([ch, -9], [`▁${ch}`, -8]);
  }
  for (let c = 0x3041; c <= 0x3093; c++) out.push([String.fromCharCode(c), -9]);
  for (let c = 0x30a1; c <= 0x30f6; c++) out.push([String.fromCharCode(c), -9]);
  for (const ch of "。、「」・ー") out.push([ch, -8]);
  WORDS.forEach((w, i) => {
    // Whole words beat their characters; earlier words slightly more probable.
    out.push([`▁${w}`, -4 - i / 1000]);
    if (!/^[a-z]+$/.test(w)) out.push([w, -4.5 - i / 1000]);
  });
  const seen = new Set<string>();
  return out.filter(([p]) => !seen.has(p) && (seen.add(p), true));
}

/** The tokenizer files (see the file comment); `modelMaxLength` (default 8192) goes into tokenizer_config.json. */
export function xlmrTokenizerFiles(opts: { modelMaxLength?: number } = {}): XlmrTokenizerFiles {
  const vocab: [string, number][] = [...SPECIALS.map((s): [string, number] => [s, 0]), ...pieces(), ["<mask>", 0]];
  const ids = new Map(vocab.map(([p], i) => [p, i]));
  XLMR_MARKERS.forEach((m, i) => ids.set(m, vocab.length + i));
  const idOf = (t: string): number => ids.get(t) ?? -1;
  const added = [
    ...[...SPECIALS, "<mask>"].map((t) => ({ id: idOf(t), content: t, single_word: false, lstrip: t === "<mask>", rstrip: false, normalized: false, special: true })),
    ...XLMR_MARKERS.map((t) => ({ id: idOf(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false })),
  ].sort((a, b) => a.id - b.id);
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Replace", pattern: { Regex: " {2,}" }, content: " " }] },
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
        { Sequence: { id: "B", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
      ],
      special_tokens: {
        "<s>": { id: "<s>", ids: [idOf("<s>")], tokens: ["<s>"] },
        "</s>": { id: "</s>", ids: [idOf("</s>")], tokens: ["</s>"] },
      },
    },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: idOf("<unk>"), vocab, byte_fallback: false },
  };
  const tokenizerConfig = {
    bos_token: "<s>",
    cls_token: "<s>",
    eos_token: "</s>",
    mask_token: "<mask>",
    model_max_length: opts.modelMaxLength ?? 8192,
    pad_token: "<pad>",
    sep_token: "</s>",
    tokenizer_class: "XLMRobertaTokenizer",
    unk_token: "<unk>",
  };
  const specialTokensMap = { bos_token: "<s>", cls_token: "<s>", eos_token: "</s>", mask_token: "<mask>", pad_token: "<pad>", sep_token: "</s>", unk_token: "<unk>" };
  return { tokenizerJson, tokenizerConfig, specialTokensMap, vocabSize: vocab.length + XLMR_MARKERS.length, ids };
}
