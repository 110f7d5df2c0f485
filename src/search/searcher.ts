/**
 * Text in, ranked documents out: an index (a folder or a PostgreSQL URL, opened through
 * location/open.ts) plus the ColBERT model its documents were encoded
 * with. Queries are encoded in the model's worker pool; explanations re-encode the stored document
 * text and report, for each query token, the document token it matched and the similarity.
 */
import { ColBERT, type LoadOptions } from "../encode/colbert.js";
import { maxsimDetailed, type MultiVector } from "../encode/multivector.js";
import { ColtsError } from "../errors.js";
import { openIndex } from "../location/open.js";
import { missingShardsOf } from "../location/partial.js";
import type { DenseOptions, Hits, OpenedIndex } from "../location/types.js";
import type { OpenOptions, SearchHit } from "../plaid/plaid-index.js";
import { DEFAULT_K } from "../plaid/stages.js";

// Fusion moved below pg/ so that both index locations share it; re-exported for existing importers.
import { fuse } from "../util/rank-fusion.js";
export { fuse };

/** How one query token matched a document: the explanation of its share of the MaxSim score. */
export interface TokenMatch {
  /** Query token (markers and [MASK] expansion tokens included). */
  queryToken: string;
  /** Best-matching document token. */
  documentToken: string;
  /** Position of that token among the document's kept vectors. */
  documentPosition: number;
  /** Their cosine similarity: this token's contribution to the MaxSim score. */
  similarity: number;
}

/**
 * A search result. `score` is MaxSim for plaid, exact and bm25+rerank, the BM25 score for bm25, the
 * fused reciprocal-rank score for hybrid.
 */
export interface ExplainedHit extends SearchHit {
  /** Present when `explain` was asked and the index stores the document's text. */
  explanation?: TokenMatch[];
  /** With `explanation`: the document's kept tokens (documentPosition indexes this list). */
  documentTokens?: string[];
  /** The stored document text: with `explanation`, or when `withText` was asked. */
  text?: string;
}

/** A query for `searchEncoded`: its text (keyword retrievers) and/or its already encoded vectors. */
export interface PreparedQuery {
  text?: string;
  vectors?: MultiVector;
}

/** How documents are retrieved. */
export type RetrieverName = "plaid" | "exact" | "bm25" | "bm25+rerank" | "hybrid" | "keyword";
/** Every retriever name, for validating user input (CLI, HTTP). */
export const RETRIEVERS: readonly RetrieverName[] = ["plaid", "exact", "bm25", "bm25+rerank", "hybrid", "keyword"];

/** Retrievers that rank by keywords alone: no query encoding, nothing for an explanation to show. */
const KEYWORD_ONLY: ReadonlySet<RetrieverName> = new Set(["bm25", "keyword"]);

/** Options of `Searcher.search`: PLAID's search options plus the choice of retriever, fusion and explanations. */
export interface RetrieveOptions extends DenseOptions {
  /**
   * plaid (default): the PLAID pipeline; exact: exhaustive MaxSim; bm25: keywords only;
   * bm25+rerank: BM25's top `depth`, re-scored by exact MaxSim; hybrid: reciprocal rank fusion of
   * the dense and keyword top `depth`; keyword: the location's keyword index (BM25 for a folder,
   * PostgreSQL full-text search for a PostgreSQL index). On a PostgreSQL index plaid is its FDE first
   * stage plus exact MaxSim, exact its exhaustive search, keyword and hybrid use its full-text search
   * (not BM25), and bm25 / bm25+rerank are refused (location/postgres.ts).
   */
  retriever?: RetrieverName;
  /** Candidates taken from each first-stage list (bm25+rerank, hybrid). Default 100; range >= k. */
  depth?: number;
  /** Hybrid fusion: score = sum over lists of weight / (rrfK + rank). Defaults: weights 1 and 1, rrfK 60. */
  fusion?: { plaidWeight?: number; bm25Weight?: number; rrfK?: number };
  /** Attach token-level MaxSim explanations to the hits. Refused (INPUT_INVALID) with the bm25 and keyword retrievers. Default false. */
  explain?: boolean;
  /**
   * Attach each hit's stored text as `text` (hits of an index built without texts get none). A
   * metadata-store read, no encoding: what integrations that hand documents on (MCP, LangChain) need.
   * Default false.
   */
  withText?: boolean;
}

/**
 * Options of `Searcher.open`: which model encodes queries (and how it loads), and whether a folder
 * index's files are verified on open (`verify`, default true; a PostgreSQL index has no files to check).
 */
export interface SearcherOptions extends LoadOptions, Pick<OpenOptions, "verify"> {
  /** Model to encode queries with. Default: the model recorded in the index. */
  model?: string;
  /** An already loaded model (shared by several searchers); takes precedence over `model`. */
  colbert?: ColBERT;
}

/** Text in, ranked documents out: an opened index and the model its queries are encoded with. `close` when done. */
export class Searcher {
  private constructor(
    /** The opened index (a folder's `PlaidIndex` is `(index as FolderIndex).plaid`). */
    readonly index: OpenedIndex,
    /** The model that encodes queries (and documents, for explanations). */
    readonly model: ColBERT,
    private readonly ownsModel: boolean,
  ) {}

  /**
   * Opens the index at `location` (a folder, or a `postgres://` URL: location/open.ts) and loads its
   * model (or uses `opts.colbert`). Throws USAGE when neither the options nor the index name a model,
   * DIM_UNSUPPORTED when the model's dim is not the index's.
   */
  static async open(location: string, opts: SearcherOptions = {}): Promise<Searcher> {
    const index = await openIndex(location, {
      ...(opts.verify !== undefined ? { verify: opts.verify } : {}),
      // `threads` bounds the index's scoring kernels too (several searchers in worker threads must not oversubscribe the cores).
      ...(opts.threads ? { runtime: { intraOpThreads: opts.threads } } : {}),
    });
    try {
      const name = opts.model ?? index.model;
      if (!opts.colbert && !name) throw new ColtsError("USAGE", `${index.location} records no model; pass one to encode queries with`);
      // One worker with every core unless told otherwise: a search encodes one short query at a time,
      // where the latency of one call counts, not the throughput of several.
      const model = opts.colbert ?? (await ColBERT.load(name as string, { ...opts, workers: opts.workers ?? 1 }));
      if (model.dim !== index.dim) {
        throw new ColtsError("DIM_UNSUPPORTED", `model ${name ?? ""} produces ${model.dim}-d vectors, the index holds ${index.dim}-d vectors`);
      }
      return new Searcher(index, model, !opts.colbert);
    } catch (e) {
      await index.close();
      throw e;
    }
  }

  /**
   * Searches each query; one ranked list per query. A list is marked `partial` (the shards left out)
   * only when `postgres.allowPartial` let a sharded index answer without a shard.
   */
  async search(queries: readonly string[], opts: RetrieveOptions = {}): Promise<Hits<ExplainedHit>[]> {
    const retriever = opts.retriever ?? (opts.exact ? "exact" : "plaid");
    const encoded = KEYWORD_ONLY.has(retriever) ? null : await this.model.encodeQueries(queries);
    return this.searchEncoded(
      queries.map((text, i) => ({ text, ...(encoded?.[i] ? { vectors: encoded[i] } : {}) })),
      opts,
    );
  }

  /**
   * Searches queries whose vectors were encoded elsewhere (the server micro-batches encoding
   * across requests). Dense retrievers need `vectors`, keyword retrievers need `text`.
   */
  async searchEncoded(queries: readonly PreparedQuery[], opts: RetrieveOptions = {}): Promise<Hits<ExplainedHit>[]> {
    const retriever = opts.retriever ?? (opts.exact ? "exact" : "plaid");
    if (opts.explain && KEYWORD_ONLY.has(retriever)) {
      // An explanation is the MaxSim token matches behind a score; a keyword score has none, and
      // explaining a keyword ranking with dense matches would describe a ranking that did not happen.
      throw new ColtsError("INPUT_INVALID", `explain shows MaxSim token matches, which the ${retriever} retriever does not use: use plaid, exact, bm25+rerank or hybrid`);
    }
    this.index.checkRetriever(retriever);
    const out: Hits<ExplainedHit>[] = [];
    for (const q of queries) {
      if (retriever !== "plaid" && retriever !== "exact" && typeof q.text !== "string") {
        throw new ColtsError("INPUT_INVALID", `retriever ${retriever} needs the query text, not only its vectors`);
      }
      const hits = await this.retrieve(retriever, q.text ?? "", q.vectors, opts);
      const partial = opts.postgres?.allowPartial === true;
      if (opts.explain && q.vectors) await this.explain(q.vectors, hits, partial);
      if (opts.withText) await this.attachTexts(hits, partial);
      out.push(hits);
    }
    return out;
  }

  private async retrieve(retriever: RetrieverName, text: string, q: MultiVector | undefined, opts: RetrieveOptions): Promise<Hits<ExplainedHit>> {
    const k = opts.k ?? DEFAULT_K;
    const depth = Math.max(k, opts.depth ?? 100);
    const vectors = (): MultiVector => {
      if (!q) throw new ColtsError("INPUT_INVALID", "query was not encoded");
      return q;
    };
    switch (retriever) {
      case "plaid":
        return this.index.search(vectors(), { ...opts, exact: false });
      case "exact":
        return this.index.search(vectors(), { ...opts, exact: true });
      case "bm25":
      case "keyword":
        return this.keywordHits(text, k, opts);
      case "bm25+rerank": {
        const first = await this.keywordHits(text, depth, opts);
        if (first.length === 0) return first;
        const postgres = opts.postgres ? { postgres: opts.postgres } : {};
        return withPartialOf(await this.index.search(vectors(), { k, exact: true, ids: first.map((h) => h.id), ...postgres }), first);
      }
      case "hybrid": {
        const [dense, sparse] = [await this.index.search(vectors(), { ...opts, k: depth, exact: false }), await this.keywordHits(text, depth, opts)];
        return withPartialOf(fuse([dense, sparse], [opts.fusion?.plaidWeight ?? 1, opts.fusion?.bm25Weight ?? 1], opts.fusion?.rrfK ?? 60, k), dense, sparse);
      }
    }
  }

  /** Keyword hits with ordinals and metadata, restricted like the dense retrievers (filter, ids). */
  private keywordHits(text: string, k: number, opts: RetrieveOptions): Promise<Hits<ExplainedHit>> {
    return this.index.keywordSearch(text, k, {
      ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
      ...(opts.ids !== undefined ? { ids: opts.ids } : {}),
      ...(opts.postgres?.allowPartial === true ? { allowPartial: true } : {}),
    });
  }

  /** Sets `text` on the hits that have none yet (explanations set it already) and whose document stores one. */
  private async attachTexts(hits: ExplainedHit[], allowPartial: boolean): Promise<void> {
    const missing = hits.filter((h) => h.text === undefined && h.ordinal >= 0);
    const texts = await this.index.texts(missing.map((h) => h.ordinal), allowPartial);
    missing.forEach((h, i) => {
      const t = texts[i];
      if (typeof t === "string") h.text = t;
    });
  }

  private async explain(q: MultiVector, hits: ExplainedHit[], allowPartial: boolean): Promise<void> {
    const texts = await this.index.texts(hits.map((h) => h.ordinal), allowPartial);
    const withText = hits.map((h, i) => ({ h, text: texts[i] })).filter((x): x is { h: ExplainedHit; text: string } => typeof x.text === "string");
    const docs = await this.model.encodeDocuments(withText.map((x) => x.text));
    const qTokens = this.model.tokenStrings(q);
    withText.forEach(({ h, text }, i) => {
      const d = docs[i];
      if (!d) return;
      const dTokens = this.model.tokenStrings(d);
      h.documentTokens = dTokens;
      h.text = text;
      const r = maxsimDetailed(q, d);
      h.explanation = qTokens.map((queryToken, t) => ({
        queryToken,
        documentToken: dTokens[r.best[t] ?? 0] ?? "",
        documentPosition: r.best[t] ?? -1,
        similarity: r.sims[t] ?? 0,
      }));
    });
  }

  /** Closes the index, and the model unless it was passed in as `colbert`. */
  async close(): Promise<void> {
    await this.index.close();
    if (this.ownsModel) await this.model.close();
  }
}

/** `out`, marked with every shard that it or one of the lists it was made from left out (none: unmarked). */
function withPartialOf<T extends SearchHit>(out: Hits<T>, ...from: readonly Hits[]): Hits<T> {
  const missing = missingShardsOf([out, ...from]);
  if (missing.length > 0) out.partial = { missingShards: missing };
  return out;
}
