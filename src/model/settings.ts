/**
 * The encoding conventions of a ColBERT checkpoint, resolved from whichever config layout the model
 * folder has (see layout.ts) and then from the caller's overrides. Pure data: no I/O here.
 *
 * Field semantics follow PyLate's `config_sentence_transformers.json` (the most explicit of the three
 * layouts); Stanford's `artifact.metadata` and next-plaid's `onnx_config.json` are mapped onto it.
 */

/** ASCII punctuation, Python's `string.punctuation`: the default document skiplist of PyLate and Stanford. */
export const ASCII_PUNCTUATION: readonly string[] = [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"];

/** How a checkpoint turns text into ColBERT inputs and what its head outputs (PyLate's field meanings). */
export interface ColbertSettings {
  /**
   * Token inserted at position 1 of every query (right after [CLS]/<s>). PyLate: `query_prefix`
   * ("[unused0]" for colbertv2.0-style BERT models, "[QueryMarker]" for Jina-ColBERT-v2). `null` = no marker.
   */
  queryPrefix: string | null;
  /** Same for documents ("[unused1]", "[DocumentMarker]"). `null` = no marker. */
  documentPrefix: string | null;
  /**
   * Total query length in tokens, marker and specials included (PyLate `query_length`, Stanford
   * `query_maxlen`). Default 32. With query expansion every query has exactly this many tokens.
   */
  queryLength: number;
  /** Maximum document length in tokens, marker and specials included. Default 180 (PyLate), 300 for answerai-small. */
  documentLength: number;
  /**
   * Pad queries to `queryLength` with the mask token and keep those vectors ("query augmentation").
   * Default true. When false queries are neither padded nor expanded; only their real tokens are scored.
   */
  doQueryExpansion: boolean;
  /**
   * Whether the expansion tokens are attended to (attention mask 1). Default false (colbertv2.0,
   * answerai); true for Jina-ColBERT-v2. Ignored when `doQueryExpansion` is false.
   */
  attendToExpansionTokens: boolean;
  /**
   * Words whose token ids are removed from document outputs (never from queries). Default ASCII
   * punctuation; empty = keep everything (Stanford `mask_punctuation: false`).
   */
  skiplistWords: string[];
  /**
   * Output dimension of the model's projection head. Filled from the head weights or the ONNX
   * output when not declared.
   */
  embeddingDim: number | null;
  /**
   * Dimensions the model was trained to be truncated to (Matryoshka), largest first, e.g. [128, 96, 64].
   * Empty when the model declares none: then any `dim` <= embeddingDim is accepted as a plain truncation.
   */
  matryoshkaDims: number[];
  /**
   * Lower-case every text before tokenizing (Sentence-Transformers `sentence_bert_config.json`
   * `do_lower_case`, next-plaid `do_lower_case`). Default false: uncased tokenizers lower-case in
   * their own normalizer.
   */
  lowercase: boolean;
}

/** The conventions of colbertv2.0-style PyLate models; a layout's config overrides them field by field. */
export const DEFAULT_SETTINGS: ColbertSettings = {
  queryPrefix: "[unused0]",
  documentPrefix: "[unused1]",
  queryLength: 32,
  documentLength: 180,
  doQueryExpansion: true,
  attendToExpansionTokens: false,
  skiplistWords: [...ASCII_PUNCTUATION],
  embeddingDim: null,
  matryoshkaDims: [],
  lowercase: false,
};

type Json = Record<string, unknown>;

function str(v: unknown): string | null | undefined {
  if (v === null) return null;
  return typeof v === "string" ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
function bool(v: unknown): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}
function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? (v) : undefined;
}
function numbers(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === "number") ? (v) : undefined;
}

/** Drops undefined fields so that spreading a partial never erases a value. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An empty-string prefix means "no marker" in PyLate. */
function prefix(v: unknown): string | null | undefined {
  const s = str(v);
  return s === "" ? null : s;
}

/** PyLate `config_sentence_transformers.json`. */
export function settingsFromPylate(cfg: Json): Partial<ColbertSettings> {
  return defined({
    queryPrefix: prefix(cfg["query_prefix"]),
    documentPrefix: prefix(cfg["document_prefix"]),
    queryLength: num(cfg["query_length"]),
    documentLength: num(cfg["document_length"]),
    doQueryExpansion: bool(cfg["do_query_expansion"]),
    attendToExpansionTokens: bool(cfg["attend_to_expansion_tokens"]),
    skiplistWords: strings(cfg["skiplist_words"]),
    matryoshkaDims: numbers(cfg["matryoshka_dims"]),
  });
}

/** Sentence-Transformers `sentence_bert_config.json` (read with the PyLate layout). */
export function settingsFromSentenceBert(cfg: Json): Partial<ColbertSettings> {
  return defined({ lowercase: bool(cfg["do_lower_case"]) });
}

/** Stanford `artifact.metadata` (a flat dump of ColBERTConfig). */
export function settingsFromStanford(meta: Json): Partial<ColbertSettings> {
  const maskPunctuation = bool(meta["mask_punctuation"]);
  return defined({
    queryPrefix: prefix(meta["query_token_id"]),
    documentPrefix: prefix(meta["doc_token_id"]),
    queryLength: num(meta["query_maxlen"]),
    documentLength: num(meta["doc_maxlen"]),
    // Stanford always expands queries with [MASK]; only attention to them is configurable.
    doQueryExpansion: true,
    attendToExpansionTokens: bool(meta["attend_to_mask_tokens"]),
    skiplistWords: maskPunctuation === false ? [] : maskPunctuation === true ? [...ASCII_PUNCTUATION] : undefined,
    embeddingDim: num(meta["dim"]),
  });
}

/** next-plaid `onnx_config.json`: PyLate's keys plus the exported head's dimension and lower-casing. */
export function settingsFromOnnxConfig(cfg: Json): Partial<ColbertSettings> {
  return defined({ ...settingsFromPylate(cfg), embeddingDim: num(cfg["embedding_dim"]), lowercase: bool(cfg["do_lower_case"]) });
}

/** Layers settings: defaults < layout files (in the given order) < caller overrides. */
export function resolveSettings(...layers: Partial<ColbertSettings>[]): ColbertSettings {
  let out: ColbertSettings = { ...DEFAULT_SETTINGS, skiplistWords: [...DEFAULT_SETTINGS.skiplistWords] };
  for (const layer of layers) out = { ...out, ...defined(layer) };
  return out;
}

/**
 * The conventions that decide what a model encodes, in one canonical form, so that two checkpoints
 * written in different layouts compare equal when they encode alike:
 *   - `embeddingDim` is `outputDim`, the dimension the head really produces (a layout that does not
 *     declare it leaves `null`, which means exactly that);
 *   - `skiplistWords` is sorted and without repeats (a set of words);
 *   - `matryoshkaDims` is sorted largest first and without repeats;
 *   - `attendToExpansionTokens` is false when `doQueryExpansion` is off (it is ignored then).
 * Every other field is kept as it is.
 */
export function encodingConventions(s: ColbertSettings, outputDim: number): ColbertSettings {
  return {
    ...s,
    skiplistWords: [...new Set(s.skiplistWords)].sort(),
    embeddingDim: outputDim,
    matryoshkaDims: [...new Set(s.matryoshkaDims)].sort((a, b) => b - a),
    attendToExpansionTokens: s.doQueryExpansion && s.attendToExpansionTokens,
  };
}
