/**
 * colts/langchain: LangChain.js (`@langchain/core` 1.x, an optional peer dependency) over colts
 * indexes: `ColtsRetriever` (a BaseRetriever) and `ColtsReranker` (a BaseDocumentCompressor).
 * Re-exports only.
 */
export { ColtsReranker, ColtsRetriever, type ColtsRerankerInput, type ColtsRetrieverInput, type ColtsSearchOptions } from "./retriever.js";
