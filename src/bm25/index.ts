/** `colts/bm25`: the in-memory BM25 index (Lucene/Anserini-exact scoring), its analysers and files. Re-exports only. */
export type { Analyzer, AnalyzerDescriptor } from "./analyzer.js";
export { analyzerFromDescriptor, builtInAnalyzer, ANALYZER_NAMES, type AnalyzerName } from "./analyzers.js";
export { englishAnalyzer, LUCENE_ENGLISH_STOP_WORDS, type EnglishAnalyzerOptions } from "./english.js";
export { cjkAnalyzer, type CjkAnalyzerOptions } from "./cjk.js";
export { japaneseAnalyzer, JAPANESE_STOP_TAGS, type JapaneseAnalyzerOptions } from "./japanese.js";
export { Bm25Index, type Bm25Document, type Bm25Hit, type Bm25Filter, type Bm25SearchOptions, type Bm25IndexOptions, type Bm25Stats } from "./bm25-index.js";
export { DEFAULT_BM25_PARAMS, type Bm25Params } from "./similarity.js";
export { saveBm25, loadBm25, BM25_FILE_NAME, type SaveBm25Result, type LoadBm25Options } from "./store.js";
