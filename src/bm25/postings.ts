/**
 * Posting lists (term id -> ascending doc ordinals with term frequencies), in typed arrays.
 *
 * Two parts per term: a frozen "base" slice of three shared arrays (CSR layout: `offsets[t]..offsets[t+1]`
 * into `docs`/`freqs`), which is what a loaded or compacted index has, and a growable "tail" that
 * `append` fills for documents added since. Ordinals only grow, so base-then-tail is still ascending.
 * `compact` merges tails into a new base and drops postings of deleted documents; it is O(postings).
 */

export interface PostingSlice {
  readonly docs: Uint32Array;
  readonly freqs: Uint32Array;
  readonly start: number;
  readonly end: number;
}

/** The frozen CSR arrays, as persisted. */
export interface PostingArrays {
  /** numTerms + 1 entries; term t's postings are `offsets[t]..offsets[t+1]`. */
  readonly offsets: Uint32Array;
  readonly docs: Uint32Array;
  readonly freqs: Uint32Array;
}

class Tail {
  docs = new Uint32Array(4);
  freqs = new Uint32Array(4);
  length = 0;

  push(doc: number, tf: number): void {
    if (this.length === this.docs.length) {
      const docs = new Uint32Array(this.length * 2);
      docs.set(this.docs);
      this.docs = docs;
      const freqs = new Uint32Array(this.length * 2);
      freqs.set(this.freqs);
      this.freqs = freqs;
    }
    this.docs[this.length] = doc;
    this.freqs[this.length] = tf;
    this.length++;
  }
}

const EMPTY = new Uint32Array(0);

export class PostingLists {
  private base: PostingArrays;
  private tails: (Tail | undefined)[] = [];
  private tailPostings = 0;

  constructor(base: PostingArrays = { offsets: new Uint32Array(1), docs: EMPTY, freqs: EMPTY }) {
    this.base = base;
  }

  /** Terms with a base slice (terms added later have only a tail). */
  private get baseTerms(): number {
    return this.base.offsets.length - 1;
  }

  /** Total postings, including those of deleted documents not yet compacted away. */
  get size(): number {
    return this.base.docs.length + this.tailPostings;
  }

  append(term: number, doc: number, tf: number): void {
    let tail = this.tails[term];
    if (tail === undefined) {
      tail = new Tail();
      this.tails[term] = tail;
    }
    tail.push(doc, tf);
    this.tailPostings++;
  }

  /** Number of postings of `term` (deleted documents included until compaction). */
  length(term: number): number {
    const inBase = term < this.baseTerms ? (this.base.offsets[term + 1] ?? 0) - (this.base.offsets[term] ?? 0) : 0;
    return inBase + (this.tails[term]?.length ?? 0);
  }

  /** Up to two slices (base, tail) whose concatenation is the term's posting list. */
  slices(term: number): PostingSlice[] {
    const out: PostingSlice[] = [];
    if (term < this.baseTerms) {
      const start = this.base.offsets[term] ?? 0;
      const end = this.base.offsets[term + 1] ?? 0;
      if (end > start) out.push({ docs: this.base.docs, freqs: this.base.freqs, start, end });
    }
    const tail = this.tails[term];
    if (tail !== undefined && tail.length > 0) out.push({ docs: tail.docs, freqs: tail.freqs, start: 0, end: tail.length });
    return out;
  }

  /**
   * Merges tails into one CSR base over `numTerms` terms, dropping postings whose doc `isDeleted`
   * (when given).
   * Returns the frozen arrays (also kept as the new base).
   */
  compact(numTerms: number, isDeleted?: (doc: number) => boolean): PostingArrays {
    // Nothing to merge or drop: the base already is the compact form.
    if (isDeleted === undefined && this.tailPostings === 0 && this.baseTerms === numTerms) return this.base;
    if (this.size > 0xffffffff) throw new RangeError("bm25: more than 2^32 postings");
    const offsets = new Uint32Array(numTerms + 1);
    const docs = new Uint32Array(this.size);
    const freqs = new Uint32Array(this.size);
    let n = 0;
    for (let t = 0; t < numTerms; t++) {
      offsets[t] = n;
      for (const s of this.slices(t)) {
        for (let i = s.start; i < s.end; i++) {
          const d = s.docs[i] ?? 0;
          if (isDeleted?.(d)) continue;
          docs[n] = d;
          freqs[n] = s.freqs[i] ?? 0;
          n++;
        }
      }
    }
    offsets[numTerms] = n;
    // Copy down to the kept length so the dropped postings' memory is released.
    this.base = { offsets, docs: docs.slice(0, n), freqs: freqs.slice(0, n) };
    this.tails = [];
    this.tailPostings = 0;
    return this.base;
  }
}
