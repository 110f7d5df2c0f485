/**
 * The server's work, off the event loop: one WorkerPool whose workers (server/worker.ts) hold the
 * models and index snapshots. The main thread only validates, micro-batches encode requests,
 * admits work (gate.ts), tracks each index's generation and serialises writes per index.
 */
import path from "node:path";
import type { MultiVector } from "../encode/multivector.js";
import { ColtsError } from "../errors.js";
import { resolveLocation } from "../location/open.js";
import { summarize, type LocationSummary } from "../location/summary.js";
import type { Hits } from "../location/types.js";
import type { HubOptions } from "../model/hub.js";
import type { LayoutOptions } from "../model/layout.js";
import { resolveModelDir } from "../model/resolve.js";
import type { RuntimeOptions } from "../runtime/session.js";
import type { RerankCandidate, RerankHit } from "../search/rerank.js";
import type { ExplainedHit, PreparedQuery, RetrieveOptions } from "../search/searcher.js";
import { threadsPerWorker, WorkerPool } from "../workers/pool.js";
import { Batcher, type BatcherOptions } from "./batcher.js";
import type { AddRequest, ServedIndexSpec, ServerTasks, ServerWorkerData, WriteResult } from "./tasks.js";

/** What `Engine.start` serves and how: the indexes, the model override, worker and thread counts, batching. */
export interface EngineOptions extends Pick<HubOptions, "env" | "localFilesOnly" | "revision">, Pick<LayoutOptions, "quantized"> {
  /**
   * Indexes to serve: unique names (URL path segments) and locations: a folder or a PostgreSQL URL
   * (`postgres://user@host:port/db?prefix=...`; its password never appears in logs, errors or /metrics).
   */
  indexes: { name: string; dir: string }[];
  /** Model for every index instead of the one each index records. */
  model?: string;
  /** Worker threads. Default 1; range 1..64. Each holds every index and model in memory. */
  workers?: number;
  /** onnxruntime threads per worker. Default: cores / workers (at least 1). */
  threads?: number;
  /** Execution provider of the workers' models (RuntimeOptions.executionProvider). Default "cpu". */
  executionProvider?: RuntimeOptions["executionProvider"];
  /** Encode micro-batching (see batcher.ts). */
  batching?: BatcherOptions;
  /**
   * How often an index's manifest (a PostgreSQL index: its settings row) is re-read to notice writes by
   * other processes, in ms. Default 2000.
   */
  refreshMs?: number;
}

/** What the API reports about an index (no file paths). */
export interface IndexSummary {
  /** The index's name in the API (a URL path segment). */
  name: string;
  /** The manifest generation served now; it moves on every committed write. */
  generation: number;
  /** Documents ever added (deleted ones included until a compaction); a PostgreSQL index: live documents (it keeps no tombstones). */
  documents: number;
  /** Documents not deleted. */
  liveDocuments: number;
  /** Stored token vectors, over every chunk. */
  vectors: number;
  /** Dimension of the token vectors. */
  dim: number;
  /** Bits per residual dimension of the codec (1, 2 or 4). */
  nbits: number;
  /** Centroids of the codec. */
  centroids: number;
  /** Token pooling factor the index was built with (1 = none). */
  poolFactor: number;
  /** Last path component of the model (a hub id is kept whole). */
  model: string;
  /** True when the index stores texts (BM25 retrievers and explanations work). */
  hasText: boolean;
  /** When the manifest was last written (ISO 8601). */
  updatedAt: string;
}

/** A query as the API receives it: text, or pre-encoded vectors ([tokens][dim]). */
export type QueryInput =
  | {
      /** The query text, encoded with the index's model. */
      text: string;
    }
  | {
      /** The query's token vectors, [tokens][dim], used as they are (no text: no BM25, no explanation). */
      vectors: number[][];
    };

/** What an index name must look like: a safe URL path segment of 1..64 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface Served {
  spec: ServedIndexSpec;
  summary: LocationSummary;
  /** Writes to this index, one after another. */
  writes: Promise<unknown>;
}

function modelLabel(model: string): string {
  return /^[\w.-]+\/[\w.-]+(@[\w.-]+)?$/.test(model) && !path.isAbsolute(model) ? model : path.basename(model);
}

/**
 * The served indexes and the worker pool that encodes and searches them (see the module comment).
 * Start it with `Engine.start`; stop it with `close`.
 */
export class Engine {
  private readonly batcher: Batcher<MultiVector>;
  private readonly timer: NodeJS.Timeout;
  /** A refresh of every index is under way (a slow database must not pile refreshes up). */
  private refreshing = false;

  private constructor(
    private readonly pool: WorkerPool<ServerTasks>,
    private readonly served: Map<string, Served>,
    private readonly modelLabels: Map<string, string>,
    opts: EngineOptions,
  ) {
    this.batcher = new Batcher((key, texts) => {
      const [index = "", kind] = key.split("\0");
      return this.pool.run("encode", { index, kind: kind === "document" ? "document" : "query", texts });
    }, { ready: () => this.pool.queueDepth === 0 && this.pool.busy < this.pool.size, ...opts.batching });
    this.timer = setInterval(() => this.refreshAll(), opts.refreshMs ?? 2000);
    this.timer.unref();
  }

  /**
   * Reads every index's manifest, resolves its model (downloading it unless `localFilesOnly`) and
   * starts the workers, each loading every model and index. USAGE for a bad or repeated name or an
   * index that records no model without `model`; the manifest's and the hub's codes otherwise.
   */
  static async start(opts: EngineOptions): Promise<Engine> {
    const served = new Map<string, Served>();
    const labels = new Map<string, string>();
    for (const { name, dir } of opts.indexes) {
      if (!NAME_PATTERN.test(name)) throw new ColtsError("USAGE", `index name ${JSON.stringify(name)} must match ${NAME_PATTERN.source}`);
      if (served.has(name)) throw new ColtsError("USAGE", `two indexes are named ${name}; name them with name=dir`);
      const location = resolveLocation(dir, (d) => path.resolve(d));
      const summary = await summarize(location);
      const model = opts.model ?? summary.model;
      if (!model) throw new ColtsError("USAGE", `index ${name} records no model; pass --model`);
      const resolved = await resolveModelDir(model, {
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.localFilesOnly ? { localFilesOnly: true } : {}),
        ...(opts.revision ? { revision: opts.revision } : {}),
        ...(opts.quantized ? { quantized: true } : {}),
      });
      labels.set(name, modelLabel(model));
      served.set(name, { spec: { name, dir: location, model: resolved }, summary, writes: Promise.resolve() });
    }
    if (served.size === 0) throw new ColtsError("USAGE", "serve at least one index");
    const workers = opts.workers ?? 1;
    const threads = opts.threads ?? threadsPerWorker(workers);
    const workerData: ServerWorkerData = {
      indexes: [...served.values()].map((s) => s.spec),
      threads,
      ...(opts.quantized ? { quantized: true } : {}),
      ...(opts.executionProvider ? { executionProvider: opts.executionProvider } : {}),
    };
    const pool = await WorkerPool.start<ServerTasks, ServerWorkerData>({ entry: new URL("./worker.js", import.meta.url), size: workers, workerData });
    return new Engine(pool, served, labels, opts);
  }

  /** Names of the served indexes, in the order given. */
  names(): string[] {
    return [...this.served.keys()];
  }

  /** What the API reports about index `name` at its current generation; INDEX_NOT_FOUND if it is not served. */
  summary(name: string): IndexSummary {
    const m = this.get(name).summary;
    return {
      name,
      generation: m.generation,
      documents: m.documents,
      liveDocuments: m.liveDocuments,
      vectors: m.vectors,
      dim: m.dim,
      nbits: m.nbits,
      centroids: m.centroids,
      poolFactor: m.poolFactor,
      model: this.modelLabels.get(name) ?? "",
      hasText: m.hasText,
      updatedAt: m.updatedAt,
    };
  }

  /** Encodes texts with the model of `index`, micro-batched with concurrent calls. */
  encode(index: string, kind: "query" | "document", texts: string[]): Promise<MultiVector[]> {
    this.get(index);
    return this.batcher.submit(`${index}\0${kind}`, texts);
  }

  /**
   * Searches `index` with each query (text is encoded first, micro-batched; vectors are used as they
   * are, DIM_UNSUPPORTED if their width differs) in a worker, at the generation served now. One hit
   * list per query, in query order; a list ranked without some shards (`postgres.allowPartial`) is
   * marked `partial`, as the Searcher marks it.
   */
  async search(index: string, queries: QueryInput[], options: RetrieveOptions): Promise<Hits<ExplainedHit>[]> {
    const served = this.get(index);
    const retriever = options.retriever ?? "plaid";
    const texts = queries.map((q) => ("text" in q ? q.text : null));
    const toEncode = retriever === "bm25" ? [] : texts.filter((t): t is string => t !== null);
    const encoded = await this.encode(index, "query", toEncode);
    let e = 0;
    const prepared: PreparedQuery[] = queries.map((q) => {
      if ("vectors" in q) return { vectors: toMultiVector(q.vectors, served.summary.dim) };
      const vectors = retriever === "bm25" ? undefined : encoded[e++];
      return { text: q.text, ...(vectors ? { vectors } : {}) };
    });
    const lists = await this.pool.run("search", { index, generation: served.summary.generation, queries: prepared, options });
    return lists.map(({ hits, missingShards }) => {
      const marked: Hits<ExplainedHit> = hits;
      if (missingShards) marked.partial = { missingShards };
      return marked;
    });
  }

  /** Exact MaxSim of `query` against the given documents with `index`'s model, best first; the top `k` (default all). */
  rerank(index: string, query: string, documents: RerankCandidate[], k?: number): Promise<RerankHit[]> {
    this.get(index);
    return this.pool.run("rerank", { index, query, documents, ...(k !== undefined ? { k } : {}) });
  }

  /** Encodes and adds documents (new ids only); writes to one index run one at a time, each atomic. */
  add(index: string, documents: AddRequest["documents"]): Promise<WriteResult> {
    return this.write(index, () => this.pool.run("add", { index, documents }));
  }

  /** Deletes documents by id (unknown ids are reported as missing); serialised with the index's other writes. */
  delete(index: string, ids: string[]): Promise<WriteResult> {
    return this.write(index, () => this.pool.run("delete", { index, ids }));
  }

  /** Tasks waiting for a worker plus texts waiting for their encode batch. */
  get queueDepth(): number {
    return this.pool.queueDepth + this.batcher.waiting;
  }

  /** Workers running a task now. */
  get busyWorkers(): number {
    return this.pool.busy;
  }

  /** Workers in the pool. */
  get workers(): number {
    return this.pool.size;
  }

  /** Encode batches run so far and the texts they held (for /metrics: texts / batches is the batching gain). */
  get encodeBatches(): { batches: number; texts: number } {
    return { batches: this.batcher.batches, texts: this.batcher.texts };
  }

  /** Waits for pending writes (each is atomic), then stops the workers. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.served.values()].map((s) => s.writes.catch(() => undefined)));
    await this.pool.close();
  }

  private get(name: string): Served {
    const s = this.served.get(name);
    if (!s) throw new ColtsError("INDEX_NOT_FOUND", `no index named ${JSON.stringify(name)} is served`);
    return s;
  }

  /** Writes run one at a time per index; the new generation is published when the write commits. */
  private write(index: string, task: () => Promise<WriteResult>): Promise<WriteResult> {
    const served = this.get(index);
    const run = served.writes.catch(() => undefined).then(task);
    served.writes = run;
    return run.then(async (r) => {
      await this.refresh(served);
      return r;
    });
  }

  private refreshAll(): void {
    if (this.refreshing) return;
    this.refreshing = true;
    void Promise.all([...this.served.values()].map((s) => this.refresh(s))).finally(() => {
      this.refreshing = false;
    });
  }

  private async refresh(s: Served): Promise<void> {
    try {
      const m = await summarize(s.spec.dir);
      if (m.generation > s.summary.generation) s.summary = m;
    } catch {
      // A manifest or database that cannot be read now keeps the last good summary; searches go on.
    }
  }
}

/**
 * Largest L2 norm accepted for a pre-encoded query row. The model's rows have norm 1; rows far larger
 * make float32 scores overflow to Infinity (1e38 per value does), which JSON can only write as null.
 * At 1e6, a score is at most tokens x 1e6 x a document row's norm: finite with room to spare.
 */
const MAX_QUERY_ROW_NORM = 1e6;

/** API vectors ([tokens][dim] numbers) to a MultiVector; dimensions and magnitudes are checked here. */
function toMultiVector(rows: number[][], dim: number): MultiVector {
  const vectors = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    if (r.length !== dim) throw new ColtsError("DIM_UNSUPPORTED", `query vector ${i} has ${r.length} values, the index holds ${dim}-d vectors`);
    const norm = Math.hypot(...r);
    if (!(norm <= MAX_QUERY_ROW_NORM)) {
      throw new ColtsError("INPUT_INVALID", `query vector ${i} has norm ${norm}: rows must have a norm of at most ${MAX_QUERY_ROW_NORM} (the model's rows have norm 1; larger ones make scores overflow)`);
    }
    vectors.set(r, i * dim);
  });
  return { vectors, tokens: rows.length, dim, tokenIds: new Int32Array(rows.length) };
}
