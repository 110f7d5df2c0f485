/**
 * Text analysis for BM25: text in, index terms out. `englishAnalyzer()` reproduces what
 * Anserini indexes by default (its `DefaultEnglishAnalyzer`, i.e. Lucene's EnglishAnalyzer chain):
 *
 *   NFKC -> StandardTokenizer-like split -> possessive 's removal -> lower case -> stop words -> Porter
 *
 * NFKC is our addition (Lucene does not normalise): it folds full-width forms, ligatures and
 * compatibility characters (`ﬁ` -> `fi`, `Ｈ２Ｏ` -> `H2O`, `µ` -> `μ`) so they match their plain forms.
 */
import { stemmer } from "stemmer";
import { ColtsError } from "../errors.js";
import type { Analyzer, AnalyzerDescriptor } from "./analyzer.js";
import { tokenize } from "./tokenizer.js";

/** Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`, the default of Lucene and Anserini (33 words). */
export const LUCENE_ENGLISH_STOP_WORDS: readonly string[] = Object.freeze([
  "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
  "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
  "will", "with",
]);

/** Options of the "english" analyser; persisted in the index's descriptor. */
export interface EnglishAnalyzerOptions {
  /**
   * Words dropped after lower-casing (compared before stemming). Default: Lucene's 33 English stop words
   * (`LUCENE_ENGLISH_STOP_WORDS`); `[]` keeps every word. Dropping them shrinks the index and speeds up
   * queries that contain them, at the cost of never matching on them ("to be or not to be" finds nothing).
   */
  readonly stopWords?: readonly string[];
  /**
   * Porter stemming (Lucene's `PorterStemFilter`, via the `stemmer` package). Default true. Conflates
   * inflections ("studies", "studied" -> "studi"), raising recall; false keeps exact word forms
   * (higher precision, larger vocabulary).
   */
  readonly stem?: boolean;
  /** Strip a trailing `'s` (also with `’` or `＇`) as Lucene's EnglishPossessiveFilter does. Default true. */
  readonly possessives?: boolean;
  /**
   * Longest token in UTF-16 units; longer ones are cut into pieces of this length. Default 255 (Lucene's
   * StandardTokenizer); range 1..1048576. Only matters for junk such as base64 blobs or long URLs.
   */
  readonly maxTokenLength?: number;
  /**
   * Unicode normalisation applied to the whole text first. Default "NFKC" (folds compatibility forms);
   * "none" reproduces Lucene exactly at the price of not matching full-width or ligature spellings.
   */
  readonly normalization?: "NFKC" | "none";
}

/** Output of the "english" family changes only when this does. */
export const ENGLISH_VERSION = 1;
const POSSESSIVE_QUOTES = new Set(["'", "\u2019", "\uFF07"]);
const NON_ASCII = /[\u0080-\uffff]/;

/** Java's `Character.toLowerCase` per code point (no context rules: final sigma stays σ, as in Lucene). */
function lowerCase(token: string): string {
  if (!NON_ASCII.test(token)) return token.toLowerCase();
  let out = "";
  for (const ch of token) {
    const lower = ch.toLowerCase();
    // Java's simple mapping is one code point; JS may give more (İ -> i + U+0307): keep the first.
    out += lower.length === ch.length ? lower : String.fromCodePoint(lower.codePointAt(0) ?? 0);
  }
  return out;
}

/** Lucene's EnglishAnalyzer (as Anserini uses it) with the options above. */
export function englishAnalyzer(options: EnglishAnalyzerOptions = {}): Analyzer {
  // Options may come from a persisted descriptor, not only from typed code: check their runtime types.
  const rawStop: unknown = options.stopWords ?? LUCENE_ENGLISH_STOP_WORDS;
  if (!Array.isArray(rawStop) || !rawStop.every((w) => typeof w === "string")) {
    throw new ColtsError("INPUT_INVALID", "english analyser: stopWords must be an array of strings");
  }
  const stopWords: string[] = [...rawStop];
  const stem = options.stem ?? true;
  const possessives = options.possessives ?? true;
  if (typeof stem !== "boolean" || typeof possessives !== "boolean") {
    throw new ColtsError("INPUT_INVALID", "english analyser: stem and possessives must be booleans");
  }
  const maxTokenLength = options.maxTokenLength ?? 255;
  const normalization = options.normalization ?? "NFKC";
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 1 || maxTokenLength > 1 << 20) {
    throw new ColtsError("INPUT_INVALID", `english analyser: maxTokenLength must be an integer in 1..1048576, got ${maxTokenLength}`);
  }
  if (normalization !== "NFKC" && normalization !== "none") {
    throw new ColtsError("INPUT_INVALID", `english analyser: normalization must be "NFKC" or "none", got ${String(normalization)}`);
  }
  const stopSet = new Set(stopWords);
  // Token -> final term, or null for a stop word: one hash lookup per token in the steady state.
  // Stemming is the costly step and vocabularies are Zipfian; bounded so memory cannot run away.
  const memo = new Map<string, string | null>();

  const descriptor: AnalyzerDescriptor = Object.freeze({
    name: "english",
    version: ENGLISH_VERSION,
    options: Object.freeze({ stopWords, stem, possessives, maxTokenLength, normalization }),
  });

  function analyze(text: string): string[] {
    const normalized = normalization === "NFKC" ? text.normalize("NFKC") : text;
    // ASCII text can be lower-cased in one go (same result as per token); otherwise per token, Java-style.
    const ascii = !NON_ASCII.test(normalized);
    const out: string[] = [];
    for (let token of tokenize(ascii ? normalized.toLowerCase() : normalized, maxTokenLength)) {
      if (possessives && token.length >= 2 && POSSESSIVE_QUOTES.has(token[token.length - 2] ?? "") && (token.endsWith("s") || token.endsWith("S"))) {
        token = token.slice(0, -2);
        if (token.length === 0) continue;
      }
      if (!ascii) token = lowerCase(token);
      let term = memo.get(token);
      if (term === undefined) {
        term = stopSet.has(token) ? null : stem ? stemmer(token) : token;
        if (memo.size >= 200_000) memo.clear();
        memo.set(token, term);
      }
      if (term !== null) out.push(term);
    }
    return out;
  }

  return { descriptor, analyze };
}
