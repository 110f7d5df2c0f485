/** `colts/eval`: BEIR and TREC formats, trec_eval-compatible measures. Re-exports only. */
export type { BeirDoc, BeirQuery, Queries, Qrels, Run, RunEntry } from "./types.js";
export {
  formatBeirDoc,
  formatBeirQrels,
  formatBeirQuery,
  formatTrecRun,
  parseBeirCorpus,
  parseBeirDocLine,
  parseBeirQrels,
  parseBeirQueries,
  parseBeirQueryLine,
  parseTopics,
  parseTrecQrels,
  parseTrecRun,
  type FormatRunOptions,
  type TopicField,
  type TopicsOptions,
} from "./formats.js";
export {
  loadBeir,
  readBeirCorpus,
  readBeirQrels,
  readBeirQueries,
  readText,
  readTopics,
  readTrecQrels,
  readTrecRun,
  writeBeir,
  writeTrecRun,
  type BeirDataset,
  type BeirOutput,
  type LoadBeirOptions,
  type ReadCorpusOptions,
} from "./io.js";
export { evaluate, type EvaluateOptions, type Evaluation } from "./metrics.js";
export { parseSquadRetrieval, type SquadRetrievalSet } from "./squad.js";
export { parseMeasure, type MeasureKind, type MeasureSpec } from "./measures.js";
export { compareIds, rankEntries } from "./ranking.js";
