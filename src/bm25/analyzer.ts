/**
 * The analyser contract of BM25: text in, index terms out. Deliberately tiny so any language can be
 * plugged in; the built-in families are english.ts, cjk.ts and japanese.ts, rebuilt from their
 * persisted descriptors by analyzers.ts.
 */
/** What is persisted with an index so a loader can rebuild (or check) the analyser that made it. */
export interface AnalyzerDescriptor {
  /** Analyser family, e.g. "english". */
  readonly name: string;
  /** Bumped whenever the family's output changes for the same options (old indexes then refuse to load). */
  readonly version: number;
  /** JSON-safe options that, with name and version, determine the output exactly. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** Turns text into index terms. The same analyser must be used for documents and queries. */
export interface Analyzer {
  /** Family, version and options, saved with an index so that loading it can rebuild this analyser. */
  readonly descriptor: AnalyzerDescriptor;
  /** Terms in text order, duplicates kept (their count is the term frequency). */
  analyze(text: string): string[];
}
