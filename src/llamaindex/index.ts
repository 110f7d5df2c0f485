/**
 * colts/llamaindex: LlamaIndex.TS (`@llamaindex/core`, an optional peer dependency) over colts
 * indexes: `ColtsRetriever` (a BaseRetriever giving NodeWithScore) and `ColtsReranker` (a node
 * post-processor re-ranking by MaxSim). Re-exports only.
 */
export { ColtsReranker, ColtsRetriever, type ColtsSearchOptions } from "./retriever.js";
