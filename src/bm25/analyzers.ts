/** The built-in analyser families by name, and the rebuilding of an index's analyser from its descriptor. */
import { ColtsError } from "../errors.js";
import type { Analyzer, AnalyzerDescriptor } from "./analyzer.js";
import { CJK_VERSION, cjkAnalyzer } from "./cjk.js";
import { ENGLISH_VERSION, englishAnalyzer } from "./english.js";
import { JAPANESE_VERSION, japaneseAnalyzer } from "./japanese.js";

/**
 * Rebuilds a built-in analyser from its persisted descriptor (used when loading an index). Throws
 * INPUT_INVALID for an unknown family or a version this colts does not produce.
 */
export function analyzerFromDescriptor(d: AnalyzerDescriptor): Analyzer {
  if (d.name === "cjk" || d.name === "japanese") {
    const version = d.name === "cjk" ? CJK_VERSION : JAPANESE_VERSION;
    if (d.version !== version) throw new ColtsError("INPUT_INVALID", `${d.name} analyser version ${d.version} is not supported (this colts has version ${version}): rebuild the index`);
    return d.name === "cjk" ? cjkAnalyzer(d.options) : japaneseAnalyzer(d.options);
  }
  if (d.name !== "english") {
    throw new ColtsError("INPUT_INVALID", `analyser "${d.name}" is not built in: pass the analyser that built the index`, { details: { analyzer: d.name } });
  }
  if (d.version !== ENGLISH_VERSION) {
    throw new ColtsError("INPUT_INVALID", `english analyser version ${d.version} is not supported (this colts has version ${ENGLISH_VERSION}): rebuild the index`);
  }
  return englishAnalyzer(d.options);
}

/** Built-in analyser families by name (CLI `--bm25-analyzer`). */
export const ANALYZER_NAMES = ["english", "cjk", "japanese"] as const;
/** The name of a built-in analyser family. */
export type AnalyzerName = (typeof ANALYZER_NAMES)[number];

/** A built-in analyser with default options; `mecabDicDir` is used by "japanese" only. */
export function builtInAnalyzer(name: AnalyzerName, opts: { mecabDicDir?: string } = {}): Analyzer {
  if (name === "cjk") return cjkAnalyzer();
  if (name === "japanese") return japaneseAnalyzer(opts.mecabDicDir ? { mecabDicDir: opts.mecabDicDir } : {});
  return englishAnalyzer();
}
