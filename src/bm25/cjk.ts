/**
 * BM25 analyser for Chinese, Japanese and Korean text without a dictionary, in the manner of Lucene's
 * `CJKAnalyzer` (Elasticsearch's `cjk` analyser): NFKC (which also does CJKWidthFilter's folding of
 * full-width Latin and half-width katakana), then runs of Han / Hiragana / Katakana / Hangul
 * characters become overlapping bigrams ("東京都" -> "東京", "京都"; a lone character stays a
 * unigram), and the rest is split as StandardTokenizer does and lower-cased. Punctuation is dropped.
 *
 * Bigrams need no dictionary and recall well on CJK (every two-character word is a term), at the
 * cost of spurious bigrams across word boundaries; a morphological analyser (japanese.ts) is
 * more precise for Japanese when a MeCab dictionary is available.
 */
import { ColtsError } from "../errors.js";
import type { Analyzer, AnalyzerDescriptor } from "./analyzer.js";
import { tokenize } from "./tokenizer.js";

/** Options of the "cjk" analyser; persisted in the index's descriptor. */
export interface CjkAnalyzerOptions {
  /** Words dropped after lower-casing (non-CJK tokens only). Default none. */
  readonly stopWords?: readonly string[];
  /** Unicode normalisation first. Default "NFKC"; "none" keeps the text as is. */
  readonly normalization?: "NFKC" | "none";
}

export const CJK_VERSION = 1;
/** Han (with 々 〆 ヵ ヶ), Hiragana, Katakana (with the prolonged sound mark ー), Hangul. */
const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\u3005\u3006]/u;

/** Overlapping bigrams of a run of CJK characters (a single character is its own term). */
export function cjkBigrams(run: readonly string[], out: string[]): void {
  if (run.length === 1) out.push(run[0] as string);
  for (let i = 0; i + 1 < run.length; i++) out.push(`${run[i] as string}${run[i + 1] as string}`);
}

/** The dictionary-free CJK analyser (bigrams of CJK runs, StandardTokenizer words for the rest) with the options above. */
export function cjkAnalyzer(options: CjkAnalyzerOptions = {}): Analyzer {
  const rawStop: unknown = options.stopWords ?? [];
  if (!Array.isArray(rawStop) || !rawStop.every((w) => typeof w === "string")) throw new ColtsError("INPUT_INVALID", "cjk analyser: stopWords must be an array of strings");
  const stopWords: string[] = [...rawStop];
  const normalization = options.normalization ?? "NFKC";
  if (normalization !== "NFKC" && normalization !== "none") throw new ColtsError("INPUT_INVALID", `cjk analyser: normalization must be "NFKC" or "none"`);
  const stop = new Set(stopWords);
  const descriptor: AnalyzerDescriptor = Object.freeze({ name: "cjk", version: CJK_VERSION, options: Object.freeze({ stopWords, normalization }) });

  function analyze(text: string): string[] {
    const normalized = normalization === "NFKC" ? text.normalize("NFKC") : text;
    const out: string[] = [];
    let run: string[] = [];
    let other = "";
    const flushOther = (): void => {
      if (other === "") return;
      for (const t of tokenize(other, 255)) {
        const lower = t.toLowerCase();
        if (!stop.has(lower)) out.push(lower);
      }
      other = "";
    };
    for (const ch of normalized) {
      if (CJK_CHAR.test(ch)) {
        flushOther();
        run.push(ch);
      } else {
        if (run.length > 0) cjkBigrams(run, out);
        run = [];
        other += ch;
      }
    }
    if (run.length > 0) cjkBigrams(run, out);
    flushOther();
    return out;
  }
  return { descriptor, analyze };
}
