/**
 * An in-memory BM25 inverted index scored exactly like Anserini (Lucene 9 `BM25Similarity`, see
 * similarity.ts) with Anserini's bag-of-words queries.
 *
 * Documents get dense ordinals 0, 1, 2... in the order they are added; an ordinal is never reused, so
 * it is a stable handle for the life of the index, including across save/load. Deleting marks the
 * ordinal as a tombstone; re-adding a deleted id gives it a new ordinal.
 *
 * Statistics choice: unlike Lucene (whose N and df keep counting deleted documents until segments
 * merge), N, the average length and df always describe exactly the live documents, so a search
 * after `delete` scores as if the index had been rebuilt without them. N and the total length are
 * maintained on add/delete; df is the posting-list length, or, while postings of deleted documents
 * are still present (until `compact`), the count of live entries in it, taken at query time.
 * As in Lucene, N counts only documents with at least one term (empty documents can never match).
 */
import { ColtsError } from "../errors.js";
import type { Analyzer } from "./analyzer.js";
import { englishAnalyzer } from "./english.js";
import { intToByte4, MAX_LENGTH } from "./norms.js";
import { PostingLists, type PostingArrays } from "./postings.js";
import { avgFieldLength, idf, normInverseCache, resolveParams, termScore, type Bm25Params } from "./similarity.js";
import { TopK } from "./topk.js";

/** A document to add to a `Bm25Index`. */
export interface Bm25Document {
  /** External id, unique among live documents; returned in hits. Any non-empty string. */
  readonly id: string;
  /** The text to index (for title + body, concatenate them: Anserini's BEIR "flat" does title + " " + text). */
  readonly text: string;
}

/** One search result. */
export interface Bm25Hit {
  /** External id of the document. */
  readonly id: string;
  /** Lucene BM25 score (a float32 value); higher is better. */
  readonly score: number;
}

/**
 * Restricts a search: either a predicate on document ordinals (see `ordinalOf`) or the set of external
 * ids allowed. The predicate is called only for documents that match the query and score high
 * enough to enter the current top k, so it may see fewer ordinals than match; keep it pure.
 */
export type Bm25Filter = ((docOrdinal: number) => boolean) | ReadonlySet<string>;

/** Options of `Bm25Index.search`. */
export interface Bm25SearchOptions {
  /** Only documents passing the filter are returned. Default: none (all live documents). */
  readonly filter?: Bm25Filter;
}

/** Options of a new `Bm25Index`: the analyser and the BM25 parameters (`k1`, `b`; defaults `DEFAULT_BM25_PARAMS`). */
export interface Bm25IndexOptions extends Partial<Bm25Params> {
  /** Analyser for documents and queries. Default: `englishAnalyzer()` (Lucene/Anserini English). */
  readonly analyzer?: Analyzer;
}

/** Sizes and statistics of a `Bm25Index`, as `stats()` reports them. */
export interface Bm25Stats {
  /** Ordinals handed out, deleted documents included. */
  readonly documents: number;
  /** Documents not deleted (`size`). */
  readonly liveDocuments: number;
  /** N of the idf formula: live documents with at least one term. */
  readonly scoredDocuments: number;
  /** Sum of the exact (unquantised) lengths of live documents, in terms. */
  readonly sumDocumentLength: number;
  /** avgdl of the formula: sumDocumentLength / scoredDocuments, 0 when nothing is scored. */
  readonly averageDocumentLength: number;
  /** Distinct terms ever indexed (terms of deleted documents stay in the dictionary). */
  readonly terms: number;
  /** Stored postings, including those of deleted documents until `compact`. */
  readonly postings: number;
}

/** Everything persisted; what `toParts` gives `saveBm25` and `fromParts` takes from `loadBm25`. */
export interface Bm25IndexParts {
  readonly params: Bm25Params;
  readonly analyzer: Analyzer;
  readonly terms: readonly string[];
  readonly postings: PostingArrays;
  readonly ids: readonly string[];
  /** Exact length (terms after analysis) per ordinal. */
  readonly lengths: Uint32Array;
  /** 1 for deleted ordinals, else 0. */
  readonly deleted: Uint8Array;
}

function grown<T extends Uint8Array | Uint32Array | Float64Array>(a: T, need: number, make: (n: number) => T): T {
  if (a.length >= need) return a;
  const b = make(Math.max(need, a.length * 2, 64));
  b.set(a);
  return b;
}

/** An in-memory BM25 index: add and delete documents, search them with Anserini's scores (see the file's comment). */
export class Bm25Index {
  /** Analyses documents and queries alike; fixed for the life of the index. */
  readonly analyzer: Analyzer;
  /** k1 and b, checked, defaults filled in. */
  readonly params: Bm25Params;

  private readonly termIds = new Map<string, number>();
  private readonly terms: string[] = [];
  private postings = new PostingLists();
  private readonly ids: string[] = [];
  private readonly live = new Map<string, number>();
  private lengths = new Uint32Array(0);
  private norms = new Uint8Array(0);
  private deleted = new Uint8Array(0);
  private scoredDocs = 0;
  private sumLength = 0;
  /** Some posting lists still hold deleted documents: df must be counted, deleted entries skipped. */
  private stale = false;
  // Per-search scratch, reused so a query allocates nothing proportional to the collection.
  private acc = new Float64Array(0);
  private seen = new Uint8Array(0);
  private tfScratch = new Uint32Array(0);

  /** An empty index; throws INPUT_INVALID for k1 < 0 or b outside [0, 1]. */
  constructor(options: Bm25IndexOptions = {}) {
    this.analyzer = options.analyzer ?? englishAnalyzer();
    this.params = resolveParams(options);
  }

  /** Number of live documents. */
  get size(): number {
    return this.live.size;
  }

  /** True when a live (not deleted) document has this id. */
  has(id: string): boolean {
    return this.live.has(id);
  }

  /** Ordinal of a live document. */
  ordinalOf(id: string): number | undefined {
    return this.live.get(id);
  }

  /** External id of an ordinal (also for deleted ordinals: ids are kept with their tombstones). */
  idOf(ordinal: number): string | undefined {
    return this.ids[ordinal];
  }

  /** True when the document of this ordinal was deleted. */
  isDeleted(ordinal: number): boolean {
    return this.deleted[ordinal] === 1;
  }

  /**
   * Adds documents, all or nothing: an empty or duplicate id (within the batch, or already live) throws
   * INPUT_INVALID before anything changes. The batch's terms are held in memory while it is added, so
   * feed very large corpora in batches (a few thousand documents).
   */
  add(docs: Iterable<Bm25Document>): void {
    const batch = [...docs];
    const seenIds = new Set<string>();
    for (const [i, d] of batch.entries()) {
      if (typeof d?.id !== "string" || d.id.length === 0) throw new ColtsError("INPUT_INVALID", `bm25 add: document ${i} has no id (need a non-empty string)`);
      if (typeof d.text !== "string") throw new ColtsError("INPUT_INVALID", `bm25 add: document "${d.id}" has no text string`, { details: { id: d.id } });
      if (this.live.has(d.id) || seenIds.has(d.id)) {
        throw new ColtsError("INPUT_INVALID", `bm25 add: duplicate document id "${d.id}" (delete it first to replace it)`, { details: { id: d.id } });
      }
      seenIds.add(d.id);
    }
    // Analyse everything before changing anything, so a throwing analyser leaves the index intact.
    const analysed = batch.map((d) => this.analyzer.analyze(d.text));
    for (const [i, tokens] of analysed.entries()) {
      if (tokens.length > MAX_LENGTH) throw new ColtsError("INPUT_INVALID", `bm25 add: document "${batch[i]?.id}" has more than 2^31-1 terms`);
    }

    const need = this.ids.length + batch.length;
    this.lengths = grown(this.lengths, need, (n) => new Uint32Array(n));
    this.norms = grown(this.norms, need, (n) => new Uint8Array(n));
    this.deleted = grown(this.deleted, need, (n) => new Uint8Array(n));
    for (const [i, d] of batch.entries()) {
      const tokens = analysed[i] ?? [];
      const ord = this.ids.length;
      this.ids.push(d.id);
      this.live.set(d.id, ord);
      this.lengths[ord] = tokens.length;
      this.norms[ord] = intToByte4(tokens.length);
      if (tokens.length > 0) this.scoredDocs++;
      this.sumLength += tokens.length;
      // Term frequencies in a scratch array indexed by term id (reset after use), distinct ids in order.
      const distinct: number[] = [];
      for (const token of tokens) {
        const t = this.termId(token);
        if (t >= this.tfScratch.length) this.tfScratch = grown(this.tfScratch, t + 1, (n) => new Uint32Array(n));
        if (this.tfScratch[t] === 0) distinct.push(t);
        this.tfScratch[t] = (this.tfScratch[t] ?? 0) + 1;
      }
      for (const t of distinct) {
        this.postings.append(t, ord, this.tfScratch[t] ?? 0);
        this.tfScratch[t] = 0;
      }
    }
  }

  /**
   * Deletes documents by id; takes effect for the next search (tombstones, statistics updated at
   * once). Unknown or already deleted ids are ignored. Returns how many documents were deleted.
   */
  delete(ids: Iterable<string>): number {
    let n = 0;
    for (const id of ids) {
      const ord = this.live.get(id);
      if (ord === undefined) continue;
      this.live.delete(id);
      this.deleted[ord] = 1;
      const len = this.lengths[ord] ?? 0;
      if (len > 0) {
        this.scoredDocs--;
        this.stale = true;
      }
      this.sumLength -= len;
      n++;
    }
    return n;
  }

  /**
   * Rewrites postings into one compact block without deleted documents: restores the fastest search
   * path after deletes and releases memory. O(postings); results do not change. `saveBm25` calls it.
   */
  compact(): void {
    this.compactPostings();
  }

  private compactPostings(): PostingArrays {
    const deleted = this.deleted;
    const arrays = this.postings.compact(this.terms.length, this.stale ? (d) => deleted[d] === 1 : undefined);
    this.stale = false;
    return arrays;
  }

  /** Current sizes and statistics (computed on the call; O(1)). */
  stats(): Bm25Stats {
    return {
      documents: this.ids.length,
      liveDocuments: this.live.size,
      scoredDocuments: this.scoredDocs,
      sumDocumentLength: this.sumLength,
      averageDocumentLength: this.scoredDocs > 0 ? this.sumLength / this.scoredDocs : 0,
      terms: this.terms.length,
      postings: this.postings.size,
    };
  }

  /**
   * The k best live documents for `query`, by score descending, ties by id ascending (JavaScript
   * string order). The query is analysed like documents and each term occurrence counts: a term
   * appearing twice weighs double (Anserini's bag-of-words query: one clause per distinct term,
   * boosted by its count, which equals summing a clause per occurrence). k = 0 gives [].
   */
  search(query: string, k: number, options: Bm25SearchOptions = {}): Bm25Hit[] {
    if (!Number.isInteger(k) || k < 0) throw new ColtsError("INPUT_INVALID", `bm25 search: k must be an integer >= 0, got ${k}`);
    if (typeof query !== "string") throw new ColtsError("INPUT_INVALID", "bm25 search: query must be a string");
    const N = this.scoredDocs;
    if (k === 0 || N === 0) return [];
    const counts = new Map<string, number>();
    for (const t of this.analyzer.analyze(query)) counts.set(t, (counts.get(t) ?? 0) + 1);
    if (counts.size === 0) return [];

    const cache = normInverseCache(this.params, avgFieldLength(this.sumLength, N));
    this.acc = grown(this.acc, this.ids.length, (n) => new Float64Array(n));
    this.seen = grown(this.seen, this.ids.length, (n) => new Uint8Array(n));
    const { acc, seen, norms, deleted, stale } = this;
    const touched: number[] = [];
    for (const [term, qtf] of counts) {
      const t = this.termIds.get(term);
      if (t === undefined) continue;
      const slices = this.postings.slices(t);
      let df = this.postings.length(t);
      if (stale) {
        df = 0;
        for (const s of slices) for (let i = s.start; i < s.end; i++) if (deleted[s.docs[i] ?? 0] !== 1) df++;
      }
      if (df === 0) continue;
      const weight = Math.fround(qtf * idf(df, N));
      for (const s of slices) {
        for (let i = s.start; i < s.end; i++) {
          const d = s.docs[i] ?? 0;
          if (stale && deleted[d] === 1) continue;
          if (seen[d] === 0) {
            seen[d] = 1;
            touched.push(d);
          }
          // Per-clause scores are floats summed in double, then rounded once (Lucene's BooleanScorer).
          acc[d] = (acc[d] ?? 0) + termScore(weight, s.freqs[i] ?? 0, cache[norms[d] ?? 0] ?? 0);
        }
      }
    }

    const allowed = compileFilter(options.filter, this.ids);
    const top = new TopK<Bm25Hit>(k);
    for (const d of touched) {
      const score = Math.fround(acc[d] ?? 0);
      acc[d] = 0;
      seen[d] = 0;
      if (!top.mightTake(score)) continue;
      if (allowed !== undefined && !allowed(d)) continue;
      top.push({ id: this.ids[d] ?? "", score });
    }
    return top.sorted();
  }

  /** The persistable state (compacts first, so no deleted postings are written). */
  toParts(): Bm25IndexParts {
    const postings = this.compactPostings();
    const n = this.ids.length;
    return {
      params: this.params,
      analyzer: this.analyzer,
      terms: this.terms,
      postings,
      ids: this.ids,
      lengths: this.lengths.subarray(0, n),
      deleted: this.deleted.subarray(0, n),
    };
  }

  /** Rebuilds an index from persisted parts (as validated by `loadBm25`). */
  static fromParts(parts: Bm25IndexParts): Bm25Index {
    const index = new Bm25Index({ analyzer: parts.analyzer, ...parts.params });
    for (const term of parts.terms) index.termId(term);
    if (index.terms.length !== parts.terms.length) throw new ColtsError("INPUT_INVALID", "bm25 index parts: duplicate term in dictionary");
    index.postings = new PostingLists(parts.postings);
    const n = parts.ids.length;
    index.lengths = Uint32Array.from(parts.lengths);
    index.deleted = Uint8Array.from(parts.deleted);
    index.norms = new Uint8Array(n);
    for (let ord = 0; ord < n; ord++) {
      const id = parts.ids[ord] ?? "";
      index.ids.push(id);
      const len = parts.lengths[ord] ?? 0;
      index.norms[ord] = intToByte4(len);
      if (parts.deleted[ord] === 1) continue;
      if (index.live.has(id)) throw new ColtsError("INPUT_INVALID", `bm25 index parts: duplicate live id "${id}"`);
      index.live.set(id, ord);
      if (len > 0) index.scoredDocs++;
      index.sumLength += len;
    }
    // Saved files are compacted, but parts could hold postings of deleted documents: then count df live.
    if (index.live.size < n) index.stale = parts.postings.docs.some((d) => parts.deleted[d] === 1);
    return index;
  }

  private termId(term: string): number {
    let t = this.termIds.get(term);
    if (t === undefined) {
      t = this.terms.length;
      this.terms.push(term);
      this.termIds.set(term, t);
    }
    return t;
  }
}

function compileFilter(filter: Bm25Filter | undefined, ids: readonly string[]): ((d: number) => boolean) | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter === "function") return filter;
  return (d) => filter.has(ids[d] ?? "");
}
