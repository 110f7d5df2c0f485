/**
 * BM25 analyser for Japanese with MeCab word splitting (text/mecab.ts; the same splitter as the
 * JaColBERT tokenizer), in the manner of Lucene's `JapaneseAnalyzer` (Kuromoji):
 *
 *   NFKC -> MeCab words -> drop stop parts of speech (particles, auxiliary verbs, symbols,
 *   whitespace) -> base form of inflected words (UniDic orthBase) -> lower case
 *
 * The dictionary is not stored in an index, only its identity (entry count and sys.dic size): an
 * index built with one dictionary refuses to load with another, since queries would be split
 * differently from the documents.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { mecabDicDirCandidates } from "../text/bert-japanese.js";
import { MecabTokenizer } from "../text/mecab.js";
import type { Analyzer, AnalyzerDescriptor } from "./analyzer.js";

/** First feature field (UniDic pos1 / IPADIC 品詞) of words dropped by default. */
export const JAPANESE_STOP_TAGS: readonly string[] = Object.freeze(["助詞", "助動詞", "補助記号", "記号", "空白"]);

/** Options of the "japanese" analyser; all but `mecabDicDir` are persisted in the index's descriptor. */
export interface JapaneseAnalyzerOptions {
  /** Compiled MeCab dictionary folder. Default: searched as for BertJapaneseTokenizer ($COLTS_MECAB_DICDIR, unidic_lite, Debian's unidic). Not persisted. */
  readonly mecabDicDir?: string;
  /** Parts of speech (first feature field) dropped. Default JAPANESE_STOP_TAGS; [] keeps every word. */
  readonly stopTags?: readonly string[];
  /**
   * Index inflected words by their base form (UniDic feature 10, orthBase: 買っ -> 買う). Default true:
   * conjugations match each other; false indexes surfaces as written.
   */
  readonly baseForm?: boolean;
  /** Identity of the dictionary the index was built with ({lexsize, bytes}); checked when given. */
  readonly dictionary?: { lexsize: number; bytes: number };
}

export const JAPANESE_VERSION = 1;
const ONLY_PUNCT = /^[\p{P}\p{S}\s]+$/u;

function findDictionary(explicit: string | undefined): string {
  const tried = mecabDicDirCandidates(explicit, undefined, "unidic_lite");
  const dir = tried.find((d) => fs.existsSync(path.join(d, "sys.dic")));
  if (!dir) {
    throw new ColtsError("MECAB_DICTIONARY_MISSING", `japanese analyser: no compiled MeCab dictionary (tried ${tried.join(", ")}); set $COLTS_MECAB_DICDIR`, { details: { tried } });
  }
  return dir;
}

/**
 * The MeCab-based Japanese analyser with the options above. Loads the dictionary at once: throws
 * MECAB_DICTIONARY_MISSING when none is found, INPUT_INVALID when it is not the `dictionary` asked for.
 */
export function japaneseAnalyzer(options: JapaneseAnalyzerOptions = {}): Analyzer {
  const rawTags: unknown = options.stopTags ?? JAPANESE_STOP_TAGS;
  if (!Array.isArray(rawTags) || !rawTags.every((w) => typeof w === "string")) throw new ColtsError("INPUT_INVALID", "japanese analyser: stopTags must be an array of strings");
  const stopTags: string[] = [...rawTags];
  const baseForm = options.baseForm ?? true;
  if (typeof baseForm !== "boolean") throw new ColtsError("INPUT_INVALID", "japanese analyser: baseForm must be a boolean");
  const dir = findDictionary(options.mecabDicDir);
  const mecab = MecabTokenizer.load(dir);
  const dictionary = { lexsize: mecab.dict.sys.lexsize, bytes: fs.statSync(path.join(dir, "sys.dic")).size };
  const want = options.dictionary;
  if (want && (want.lexsize !== dictionary.lexsize || want.bytes !== dictionary.bytes)) {
    throw new ColtsError("INPUT_INVALID", `japanese analyser: the index was built with another MeCab dictionary (${want.lexsize} entries, ${want.bytes} bytes) than ${dir} (${dictionary.lexsize}, ${dictionary.bytes}); set $COLTS_MECAB_DICDIR to that dictionary or rebuild`);
  }
  const stop = new Set(stopTags);
  const descriptor: AnalyzerDescriptor = Object.freeze({ name: "japanese", version: JAPANESE_VERSION, options: Object.freeze({ stopTags, baseForm, dictionary }) });

  function analyze(text: string): string[] {
    const out: string[] = [];
    for (const w of mecab.parse(text.normalize("NFKC"))) {
      const fields = w.feature.split(",");
      if (stop.has(fields[0] ?? "") || ONLY_PUNCT.test(w.surface)) continue;
      const base = baseForm ? fields[10] : undefined;
      out.push((base && base !== "*" && base !== "" ? base : w.surface).toLowerCase());
    }
    return out;
  }
  return { descriptor, analyze };
}
