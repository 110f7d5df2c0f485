/**
 * Worker entry of `colts serve`: every worker loads the models and opens every served index, then
 * answers encode, search, rerank and write tasks, so the server's event loop never encodes or
 * scores. Models run in-process here (`workers: 0`): the worker *is* the thread.
 *
 * Consistency of writes: each task carries the index generation the main thread knows; a worker
 * whose snapshot is older reopens the index first (the writer switches manifests atomically, so an
 * open sees one whole generation). A search therefore runs on one complete snapshot, old or new,
 * never a half-written one; the old snapshot is closed only after the swap.
 */
import { ColBERT } from "../encode/colbert.js";
import type { MultiVector } from "../encode/multivector.js";
import { ColtsError, isColtsError } from "../errors.js";
import { addAt, deleteAt } from "../location/write.js";
import { arraySource, type EmbeddedDoc } from "../plaid/source.js";
import { rerank } from "../search/rerank.js";
import { Searcher } from "../search/searcher.js";
import { serveWorker } from "../workers/host.js";
import type { ServedIndexSpec, ServerTasks, ServerWorkerData, WriteResult } from "./tasks.js";

/**
 * Opening can race a writer's garbage collection (files of the generation just read removed, seen as
 * a corrupt chunk or a missing keyword index): retry, which reads the newer manifest.
 */
const OPEN_ATTEMPTS = 4;

class Snapshots {
  private readonly open = new Map<string, Searcher>();

  constructor(
    private readonly specs: Map<string, ServedIndexSpec>,
    private readonly models: Map<string, ColBERT>,
    private readonly threads: number,
  ) {}

  spec(name: string): ServedIndexSpec {
    const s = this.specs.get(name);
    if (!s) throw new ColtsError("INDEX_NOT_FOUND", `no index named ${JSON.stringify(name)}`);
    return s;
  }

  model(name: string): ColBERT {
    const m = this.models.get(this.spec(name).model);
    if (!m) throw new ColtsError("WORKER_FAILED", `model of index ${name} is not loaded`);
    return m;
  }

  /** The searcher at `generation` or newer. */
  async at(name: string, generation: number, verify = false): Promise<Searcher> {
    const current = this.open.get(name);
    if (current && current.index.covers(generation)) return current;
    const next = await this.openFresh(name, verify);
    this.open.set(name, next);
    if (current) await current.close();
    return next;
  }

  private async openFresh(name: string, verify: boolean): Promise<Searcher> {
    const spec = this.spec(name);
    for (let attempt = 1; ; attempt++) {
      try {
        const s = await Searcher.open(spec.dir, { colbert: this.model(name), verify, threads: this.threads });
        // Load the keyword index now: a later write may garbage-collect this generation's file.
        await s.index.preload();
        return s;
      } catch (e) {
        const raced = isColtsError(e, "INDEX_CORRUPT") || isColtsError(e, "INDEX_NOT_FOUND");
        if (attempt >= OPEN_ATTEMPTS || !raced) throw e;
      }
    }
  }
}

function transferables(vs: MultiVector[]): ArrayBuffer[] {
  return vs.flatMap((v) => [v.vectors.buffer, v.tokenIds.buffer]).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

serveWorker<ServerTasks, ServerWorkerData>(async ({ indexes, threads, quantized, executionProvider }) => {
  const models = new Map<string, ColBERT>();
  for (const spec of indexes) {
    if (!models.has(spec.model)) models.set(spec.model, await ColBERT.load(spec.model, { workers: 0, threads, localFilesOnly: true, ...(quantized ? { quantized } : {}), ...(executionProvider ? { executionProvider } : {}) }));
  }
  const snapshots = new Snapshots(new Map(indexes.map((s) => [s.name, s])), models, threads);
  for (const spec of indexes) await snapshots.at(spec.name, 0, true);
  return {
    encode: async ({ index, kind, texts }) => {
      const model = snapshots.model(index);
      const vs = kind === "query" ? await model.encodeQueries(texts) : await model.encodeDocuments(texts);
      return { result: vs, transfer: transferables(vs) };
    },
    search: async ({ index, generation, queries, options }) => {
      const searcher = await snapshots.at(index, generation);
      const lists = await searcher.searchEncoded(queries, options);
      return { result: lists.map((hits) => ({ hits, ...(hits.partial ? { missingShards: hits.partial.missingShards } : {}) })) };
    },
    rerank: async ({ index, query, documents, k }) => {
      return { result: await rerank(snapshots.model(index), query, documents, k !== undefined ? { k } : {}) };
    },
    add: async ({ index, documents }) => {
      const spec = snapshots.spec(index);
      const vs = await snapshots.model(index).encodeDocuments(documents.map((d) => d.text));
      const docs: EmbeddedDoc[] = documents.map((d, i) => {
        const v = vs[i] as MultiVector;
        return { id: d.id, vectors: v.vectors, n: v.tokens, metadata: d.metadata ?? null, text: d.text };
      });
      const m = await addAt(spec.dir, arraySource(docs));
      await snapshots.at(index, m.generation);
      const result: WriteResult = { generation: m.generation, liveDocuments: m.liveDocuments, added: docs.length };
      return { result };
    },
    delete: async ({ index, ids }) => {
      const r = await deleteAt(snapshots.spec(index).dir, ids);
      await snapshots.at(index, r.generation);
      const result: WriteResult = { generation: r.generation, liveDocuments: r.liveDocuments, deleted: r.deleted, missing: r.missing };
      return { result };
    },
  };
});
