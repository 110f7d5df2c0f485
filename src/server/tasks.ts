/**
 * The server workers' protocol, declared once for both sides: the data every worker starts with and
 * one request and response type per task. engine.ts runs the tasks through a `WorkerPool<ServerTasks>`;
 * worker.ts answers them with `serveWorker<ServerTasks, ServerWorkerData>`.
 */
import type { MultiVector } from "../encode/multivector.js";
import type { RerankCandidate, RerankHit } from "../search/rerank.js";
import type { ExplainedHit, PreparedQuery, RetrieveOptions } from "../search/searcher.js";

/** One served index as the workers see it. */
export interface ServedIndexSpec {
  /** The index's name in the API (a URL path segment). */
  name: string;
  /** Absolute index folder, or a PostgreSQL URL (password included: never print it, see location/open.ts `printableLocation`). */
  dir: string;
  /** Resolved model folder (the index's recorded model or the --model override). */
  model: string;
}

/** What every server worker starts with. */
export interface ServerWorkerData {
  indexes: ServedIndexSpec[];
  /** onnxruntime threads per worker. */
  threads: number;
  /** Load the models' int8 graphs (LayoutOptions.quantized). Default false. */
  quantized?: boolean;
  /** Execution provider of the models. Default "cpu". */
  executionProvider?: "cpu" | "cuda";
}

/** Encode texts with the model of `index`. */
export interface EncodeRequest {
  index: string;
  kind: "query" | "document";
  texts: string[];
}

/** Search prepared (already encoded) queries. */
export interface SearchRequest {
  index: string;
  /** Reopen first when the worker's snapshot is older than this. */
  generation: number;
  queries: PreparedQuery[];
  options: RetrieveOptions;
}

/**
 * One query's hits as they cross the thread boundary: a structured clone keeps an array's items, not
 * its properties, so a partial list's mark (location/types.ts `Hits`) travels beside it.
 */
export interface SearchResultList {
  hits: ExplainedHit[];
  /** The shards this list was ranked without (only with `postgres.allowPartial`). */
  missingShards?: string[];
}

/** Rerank candidate documents for one query with the model of `index`. */
export interface RerankRequest {
  index: string;
  query: string;
  documents: RerankCandidate[];
  /** Hits to return. Default: all candidates. */
  k?: number;
}

/** Encode and add documents to `index`. */
export interface AddRequest {
  index: string;
  documents: { id: string; text: string; metadata?: Record<string, unknown> | null }[];
}

/** Delete documents of `index` by id. */
export interface DeleteRequest {
  index: string;
  ids: string[];
}

/** The outcome of a write: the committed generation and what changed. */
export interface WriteResult {
  generation: number;
  liveDocuments: number;
  /** Documents added (add). */
  added?: number;
  /** Ids deleted (delete). */
  deleted?: string[];
  /** Ids asked for but not in the index (delete). */
  missing?: string[];
}

/** The server workers' tasks. */
export interface ServerTasks {
  encode: { request: EncodeRequest; response: MultiVector[] };
  search: { request: SearchRequest; response: SearchResultList[] };
  rerank: { request: RerankRequest; response: RerankHit[] };
  add: { request: AddRequest; response: WriteResult };
  delete: { request: DeleteRequest; response: WriteResult };
}
