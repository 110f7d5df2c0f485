/**
 * colts: ColBERT-style late-interaction retrieval. The root entry holds what an application needs:
 * load a checkpoint and encode, MaxSim, build / open / update a PLAID index, search it (PLAID,
 * exact, BM25, hybrid, re-rank), errors and their codes. Index locations: a folder or a PostgreSQL URL
 * (`postgres://user@host:port/db?prefix=...`) wherever an index is opened or written through
 * `Searcher.open`, `openIndex` and the `...At` writers. Everything else has a subpath of its own:
 * `colts/eval`, `colts/train`, `colts/server`, `colts/cli`, `colts/testing`, `colts/bm25`,
 * `colts/text`, `colts/model`, `colts/plaid`, `colts/metadata`, `colts/runtime`, `colts/encode`,
 * `colts/corpus`, `colts/langchain`, `colts/llamaindex`, `colts/muvera`.
 * Re-exports only.
 */
export { ColBERT, type LoadOptions, type BatchEncodeOptions, type ModelInfo } from "./encode/colbert.js";
export type { EncodeOptions } from "./encode/encoder.js";
export { maxsim, maxsimDetailed, row, type MultiVector } from "./encode/multivector.js";
export { CrossEncoder, type CrossEncoderOptions, type ScorePair } from "./encode/cross-encoder.js";
export { ColtsError, ERROR_CODES, isColtsError, type ErrorCode } from "./errors.js";
export type { HubOptions, DownloadProgress } from "./model/hub.js";
export type { LayoutKind, LayoutOptions } from "./model/layout.js";
export { DEFAULT_SETTINGS, type ColbertSettings } from "./model/settings.js";
export type { RuntimeOptions } from "./runtime/session.js";
export { PlaidIndex, type SearchOptions, type SearchHit, type IndexInfo, type OpenOptions } from "./plaid/plaid-index.js";
export { buildIndex, addToIndex, deleteFromIndex, compactIndex, type BuildOptions, type CompactOptions } from "./plaid/writer.js";
export type { Manifest } from "./plaid/manifest.js";
export { arraySource, type EmbeddedDoc, type EmbeddingSource } from "./plaid/source.js";
export { encodedCorpusSource, type EncodedSourceOptions } from "./plaid/corpus.js";
export { checkCorpus, readCorpus, type CheckedCorpus, type CorpusOptions, type CorpusDoc } from "./corpus/reader.js";
export { plaidDefaults, type PlaidParams } from "./plaid/stages.js";
export { openIndex, locationKind, printableLocation, type OpenIndexOptions } from "./location/open.js";
export type { OpenedIndex, LocationKind, KeywordOptions, DenseOptions, Hits, PartialMark } from "./location/types.js";
export { FolderIndex } from "./location/folder.js";
// A type only: the class loads node-postgres, which `openIndex` loads on first use of a URL.
export type { PostgresIndex } from "./location/postgres.js";
export { summarize, type LocationSummary } from "./location/summary.js";
export { buildAt, addAt, deleteAt, compactAt, upgradeAt, type WriteOutcome, type CompactOutcome } from "./location/write.js";
export { Searcher, fuse, RETRIEVERS, type RetrieverName, type RetrieveOptions, type SearcherOptions, type ExplainedHit, type TokenMatch } from "./search/searcher.js";
export { rerank, type RerankCandidate, type RerankHit, type RerankOptions } from "./search/rerank.js";
export { parseFilter, type FilterNode } from "./metadata/filter.js";
