/** `OpenedIndex` over a PLAID index folder (plaid/plaid-index.ts). */
import { PlaidIndex, type OpenOptions, type SearchHit, type SearchOptions } from "../plaid/plaid-index.js";
import type { KeywordOptions, OpenedIndex } from "./types.js";

/** A folder index behind the `OpenedIndex` seam; `plaid` is the index itself, for folder-only tools. */
export class FolderIndex implements OpenedIndex {
  /** A folder of PLAID files. */
  readonly kind = "folder";

  /** `plaid`: the opened folder index, for folder-only tools (integrity checks, info). */
  private constructor(
    /** The opened folder index. */
    readonly plaid: PlaidIndex,
  ) {}

  /** Opens the index in `dir` (PlaidIndex.open's codes). */
  static async open(dir: string, opts: OpenOptions = {}): Promise<FolderIndex> {
    return new FolderIndex(await PlaidIndex.open(dir, opts));
  }

  /** The index folder. */
  get location(): string {
    return this.plaid.dir;
  }

  /** Dimension of the stored vectors (the manifest's). */
  get dim(): number {
    return this.plaid.manifest.dim;
  }

  /** The model the manifest records, or null. */
  get model(): string | null {
    return this.plaid.manifest.model;
  }

  /** True when the opened manifest generation is `generation` or newer (a folder is a snapshot). */
  covers(generation: number): boolean {
    return this.plaid.manifest.generation >= generation;
  }

  /** PlaidIndex.search: PLAID, or exhaustive MaxSim with `exact`. */
  search(q: { vectors: Float32Array; tokens: number; dim: number }, opts: SearchOptions): Promise<SearchHit[]> {
    return this.plaid.search(q, opts);
  }

  /** Every retriever works on a folder index. */
  checkRetriever(retriever: string): void {
    void retriever;
  }

  /** BM25 hits with ordinals and metadata, restricted like the dense search (filter, ids). */
  async keywordSearch(text: string, k: number, opts: KeywordOptions): Promise<SearchHit[]> {
    const bm25 = await this.plaid.keywordIndex();
    let allowed: Set<string> | undefined;
    if (opts.filter !== undefined) allowed = this.plaid.idsMatching(opts.filter);
    if (opts.ids !== undefined) allowed = new Set(opts.ids.filter((id) => allowed === undefined || allowed.has(id)));
    const hits = bm25.search(text, k, allowed ? { filter: allowed } : {});
    const ordinals = this.plaid.ordinalsForIds(hits.map((h) => h.id));
    const withOrdinal = hits.map((h) => ({ ...h, ordinal: ordinals.get(h.id) ?? -1 }));
    const metas = this.plaid.metadataFor(withOrdinal.map((h) => h.ordinal).filter((o) => o >= 0));
    let m = 0;
    return withOrdinal.map((h) => ({ ...h, metadata: h.ordinal >= 0 ? (metas[m++] ?? null) : null }));
  }

  /** Stored texts from the metadata database. */
  texts(ordinals: readonly number[]): Promise<(string | null)[]> {
    return Promise.resolve(this.plaid.texts(ordinals));
  }

  /** Loads the BM25 file now (a later write may garbage-collect this generation's). */
  async preload(): Promise<void> {
    if (this.plaid.manifest.bm25File) await this.plaid.keywordIndex();
  }

  /** Closes the index (PlaidIndex.close). */
  close(): Promise<void> {
    return this.plaid.close();
  }
}
