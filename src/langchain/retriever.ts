/**
 * LangChain.js over colts: `ColtsRetriever`, a `BaseRetriever` over an index folder, and
 * `ColtsReranker`, a `BaseDocumentCompressor` that re-orders another retriever's documents by exact
 * MaxSim. `@langchain/core` (1.x) is an optional peer dependency: only `colts/langchain` imports it.
 */
import { randomUUID } from "node:crypto";
import type { CallbackManagerForRetrieverRun } from "@langchain/core/callbacks/manager";
import { Document, type DocumentInterface } from "@langchain/core/documents";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import type { RunnableConfig } from "@langchain/core/runnables";
import { BaseDocumentCompressor } from "@langchain/core/retrievers/document_compressors";
import { ColBERT, type LoadOptions } from "../encode/colbert.js";
import type { MultiVector } from "../encode/multivector.js";
import { ColtsError } from "../errors.js";
import type { EmbeddedDoc } from "../plaid/source.js";
import { arraySource } from "../plaid/source.js";
import { addToIndex } from "../plaid/writer.js";
import { rerank } from "../search/rerank.js";
import { Searcher, type RetrieveOptions, type SearcherOptions } from "../search/searcher.js";

/** What each query asks of the index: `Searcher.search`'s options (explanations excepted). */
export type ColtsSearchOptions = Pick<RetrieveOptions, "k" | "retriever" | "filter" | "ids" | "depth" | "params" | "fusion">;

/** Options of `ColtsRetriever`: LangChain's retriever fields plus the search options of every query. */
export interface ColtsRetrieverInput extends BaseRetrieverInput {
  /**
   * Search options for every query: `k` (default 10, range 1..10000), `retriever` (plaid (default),
   * exact, bm25, bm25+rerank, hybrid, keyword), `filter` (metadata condition), `ids`, `depth` (default 100),
   * `params` (PLAID's ncells, centroidScoreThreshold, ndocs; defaults depend on k), `fusion` (hybrid).
   */
  search?: ColtsSearchOptions;
}

/**
 * A LangChain retriever over a colts index. Each query returns `Document`s in the Searcher's order:
 * `pageContent` is the stored text ("" when the index stores none), `metadata` the stored metadata
 * plus `id` and `score` (these two replace stored fields of the same names), and `id` the document's
 * id. Open with `ColtsRetriever.open(dir)`; `close()` when done.
 */
export class ColtsRetriever extends BaseRetriever {
  /** LangChain's serialisation namespace of this class. */
  lc_namespace = ["colts", "retrievers"];

  /** The search options of every query (see ColtsRetrieverInput.search). */
  search: ColtsSearchOptions;

  private constructor(
    private searcher: Searcher,
    private readonly dir: string,
    fields: ColtsRetrieverInput,
  ) {
    super(fields);
    this.search = fields.search ?? {};
  }

  /** Opens the index in `dir` with its model (or `opts.model` / `opts.colbert`, as `Searcher.open` takes them). */
  static async open(dir: string, opts: ColtsRetrieverInput & SearcherOptions = {}): Promise<ColtsRetriever> {
    const { search, callbacks, tags, metadata, verbose, ...searcherOptions } = opts;
    // The retriever owns the model unless one was passed in; searchers reopened after a write share it.
    const searcher = await Searcher.open(dir, searcherOptions);
    const r = new ColtsRetriever(searcher, dir, { ...(search ? { search } : {}), ...(callbacks ? { callbacks } : {}), ...(tags ? { tags } : {}), ...(metadata ? { metadata } : {}), ...(verbose !== undefined ? { verbose } : {}) });
    r.ownsModel = !opts.colbert;
    return r;
  }

  private ownsModel = false;

  /** The model that encodes queries (share it with a `ColtsReranker`). */
  get model(): ColBERT {
    return this.searcher.model;
  }

  /**
   * LangChain's `invoke`, cancellable through `options.signal` (which @langchain/core's retriever
   * does not pass on): an aborted signal rejects at once with its reason; the search already running
   * in a worker finishes unobserved.
   */
  override async invoke(input: string, options?: RunnableConfig): Promise<DocumentInterface[]> {
    const signal = options?.signal;
    if (!signal) return super.invoke(input, options);
    signal.throwIfAborted();
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error("Aborted"));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([super.invoke(input, options), aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** One query's documents, in the Searcher's order (what `invoke` returns; see the class comment). */
  override async _getRelevantDocuments(query: string, _runManager?: CallbackManagerForRetrieverRun): Promise<Document[]> {
    const [hits = []] = await this.searcher.search([query], { ...this.search, withText: true });
    return hits.map((h) => new Document({ pageContent: h.text ?? "", metadata: { ...(h.metadata ?? {}), id: h.id, score: h.score }, id: h.id }));
  }

  /**
   * Encodes and adds documents to the index (atomically) and searches the new generation from then on.
   * Ids: `opts.ids[i]`, else the document's `id`, else a random UUID; new ids only (INPUT_INVALID for
   * a live one). Each document's metadata is stored as is (usable in filters). Returns the ids.
   */
  async addDocuments(documents: readonly DocumentInterface[], opts: { ids?: readonly string[] } = {}): Promise<string[]> {
    if (opts.ids && opts.ids.length !== documents.length) throw new ColtsError("INPUT_INVALID", `${opts.ids.length} ids for ${documents.length} documents`);
    const ids = documents.map((d, i) => opts.ids?.[i] ?? d.id ?? randomUUID());
    const vectors = await this.model.encodeDocuments(documents.map((d) => d.pageContent));
    const docs: EmbeddedDoc[] = documents.map((d, i) => {
      const v = vectors[i] as MultiVector;
      return { id: ids[i] as string, vectors: v.vectors, n: v.tokens, metadata: Object.keys(d.metadata).length > 0 ? d.metadata : null, text: d.pageContent };
    });
    await addToIndex(this.dir, arraySource(docs));
    const next = await Searcher.open(this.dir, { colbert: this.model });
    await this.searcher.index.close();
    this.searcher = next;
    return ids;
  }

  /** Closes the index, and the model unless it was passed in as `colbert`. */
  async close(): Promise<void> {
    await this.searcher.index.close();
    if (this.ownsModel) await this.model.close();
  }
}

/** Options of `ColtsReranker`. */
export interface ColtsRerankerInput {
  /** The ColBERT model that scores (a loaded one, e.g. a `ColtsRetriever`'s `model`). */
  model: ColBERT;
  /** Documents kept, best first. Default: all. Range >= 1. */
  k?: number;
}

/**
 * Re-ranks documents from any retriever by exact MaxSim of the query against each `pageContent`
 * (what `rerank` and `colts rerank` compute), best first, ties in input order. Each returned
 * document is a copy whose metadata gains `relevanceScore` (LangChain's re-ranker convention).
 */
export class ColtsReranker extends BaseDocumentCompressor {
  /** The scoring model. */
  readonly model: ColBERT;
  /** Documents kept (undefined: all). */
  k: number | undefined;
  private ownsModel = false;

  /** A re-ranker over an already loaded model, which stays the caller's to close. */
  constructor(fields: ColtsRerankerInput) {
    super();
    this.model = fields.model;
    this.k = fields.k;
  }

  /** Loads a model (folder or hub id, as `ColBERT.load`) and returns a re-ranker that owns it: `close()` it. */
  static async load(model: string, opts: LoadOptions & { k?: number } = {}): Promise<ColtsReranker> {
    const { k, ...load } = opts;
    const r = new ColtsReranker({ model: await ColBERT.load(model, load), ...(k !== undefined ? { k } : {}) });
    r.ownsModel = true;
    return r;
  }

  /** The documents re-ordered by exact MaxSim against `query`, the best `k`, each with `metadata.relevanceScore`. */
  override async compressDocuments(documents: DocumentInterface[], query: string): Promise<DocumentInterface[]> {
    if (documents.length === 0) return [];
    const hits = await rerank(this.model, query, documents.map((d, i) => ({ id: String(i), text: d.pageContent })), this.k !== undefined ? { k: this.k } : {});
    return hits.map((h) => {
      const d = documents[h.index] as DocumentInterface;
      return new Document({ pageContent: d.pageContent, metadata: { ...d.metadata, relevanceScore: h.score }, ...(d.id !== undefined ? { id: d.id } : {}) });
    });
  }

  /** Closes the model if `load` loaded it. */
  async close(): Promise<void> {
    if (this.ownsModel) await this.model.close();
  }
}
