/**
 * LlamaIndex.TS over colts: `ColtsRetriever`, a `BaseRetriever` over an index folder returning
 * `NodeWithScore`s, and `ColtsReranker`, a node post-processor that re-orders nodes by exact MaxSim.
 * `@llamaindex/core` is an optional peer dependency: only `colts/llamaindex` imports it.
 */
import type { MessageContent } from "@llamaindex/core/llms";
import type { BaseNodePostprocessor } from "@llamaindex/core/postprocessor";
import type { QueryBundle } from "@llamaindex/core/query-engine";
import { BaseRetriever } from "@llamaindex/core/retriever";
import { MetadataMode, TextNode, type NodeWithScore } from "@llamaindex/core/schema";
import { extractText } from "@llamaindex/core/utils";
import { ColBERT, type LoadOptions } from "../encode/colbert.js";
import { ColtsError } from "../errors.js";
import { rerank } from "../search/rerank.js";
import { Searcher, type RetrieveOptions, type SearcherOptions } from "../search/searcher.js";

/** What each query asks of the index: `Searcher.search`'s options (explanations excepted). */
export type ColtsSearchOptions = Pick<RetrieveOptions, "k" | "retriever" | "filter" | "ids" | "depth" | "params" | "fusion">;

/**
 * A LlamaIndex retriever over a colts index: `retrieve(query)` gives one `NodeWithScore` per hit in
 * the Searcher's order, a `TextNode` whose `id_` is the document's id, `text` its stored text ("" when
 * the index stores none) and `metadata` its stored metadata, with the retriever's score. Open with
 * `ColtsRetriever.open(dir)`; `close()` when done.
 */
export class ColtsRetriever extends BaseRetriever {
  /**
   * Search options for every query: `k` (default 10, range 1..10000), `retriever` (plaid (default),
   * exact, bm25, bm25+rerank, hybrid, keyword), `filter`, `ids`, `depth` (default 100), `params` (PLAID's
   * ncells, centroidScoreThreshold, ndocs; defaults depend on k), `fusion` (hybrid).
   */
  search: ColtsSearchOptions;

  private constructor(
    private readonly searcher: Searcher,
    search: ColtsSearchOptions,
  ) {
    super();
    this.search = search;
  }

  /** Opens the index in `dir` with its model (or `opts.model` / `opts.colbert`, as `Searcher.open` takes them). */
  static async open(dir: string, opts: SearcherOptions & { search?: ColtsSearchOptions } = {}): Promise<ColtsRetriever> {
    const { search, ...searcherOptions } = opts;
    return new ColtsRetriever(await Searcher.open(dir, searcherOptions), search ?? {});
  }

  /** The model that encodes queries (share it with a `ColtsReranker`). */
  get model(): ColBERT {
    return this.searcher.model;
  }

  /** One query's nodes, in the Searcher's order (what `retrieve` returns; see the class comment). */
  async _retrieve(params: QueryBundle): Promise<NodeWithScore[]> {
    const [hits = []] = await this.searcher.search([extractText(params.query)], { ...this.search, withText: true });
    return hits.map((h) => ({ node: new TextNode({ id_: h.id, text: h.text ?? "", metadata: { ...(h.metadata ?? {}) } }), score: h.score }));
  }

  /** Closes the index, and the model unless it was passed in as `colbert`. */
  async close(): Promise<void> {
    await this.searcher.close();
  }
}

/**
 * A node post-processor that re-orders nodes from any retriever by exact MaxSim of the query against
 * each node's content without metadata (the scores of `rerank` and `colts rerank`), best first, ties
 * in input order; each returned node carries its MaxSim as `score`.
 */
export class ColtsReranker implements BaseNodePostprocessor {
  /** The scoring model. */
  readonly model: ColBERT;
  /** Nodes kept, best first (undefined: all). Range >= 1. */
  topN: number | undefined;
  private ownsModel = false;

  /** A re-ranker over an already loaded model (e.g. a `ColtsRetriever`'s `model`), which stays the caller's to close. */
  constructor(fields: { model: ColBERT; topN?: number }) {
    this.model = fields.model;
    this.topN = fields.topN;
  }

  /** Loads a model (folder or hub id, as `ColBERT.load`) and returns a re-ranker that owns it: `close()` it. */
  static async load(model: string, opts: LoadOptions & { topN?: number } = {}): Promise<ColtsReranker> {
    const { topN, ...load } = opts;
    const r = new ColtsReranker({ model: await ColBERT.load(model, load), ...(topN !== undefined ? { topN } : {}) });
    r.ownsModel = true;
    return r;
  }

  /** The nodes re-ordered by exact MaxSim against `query` (required: INPUT_INVALID without it), the best `topN`. */
  async postprocessNodes(nodes: NodeWithScore[], query?: MessageContent): Promise<NodeWithScore[]> {
    if (query === undefined) throw new ColtsError("INPUT_INVALID", "ColtsReranker needs the query to re-rank nodes");
    if (nodes.length === 0) return [];
    const texts = nodes.map((n, i) => ({ id: String(i), text: n.node.getContent(MetadataMode.NONE) }));
    const hits = await rerank(this.model, extractText(query), texts, this.topN !== undefined ? { k: this.topN } : {});
    return hits.map((h) => ({ node: (nodes[h.index] as NodeWithScore).node, score: h.score }));
  }

  /** Closes the model if `load` loaded it. */
  async close(): Promise<void> {
    if (this.ownsModel) await this.model.close();
  }
}
