/**
 * Synthetic clustered unit vectors for the PLAID and PostgreSQL benchmarks (plaid-synthetic.ts,
 * pg-scale.ts), and exact MaxSim over them (the ground truth of recall@10).
 *
 * Data: `topics` topics x 8 "terms" (sub-centres) on the unit sphere; a document takes 4 topics and
 * `tokens` +- 25% vectors, each a noisy copy of a term of one of its topics; a query is 32 vectors
 * drawn the same way from the topics of a random document (so every query has relevant documents).
 * Everything is a pure function of (seed, document number): documents are regenerated on demand, so
 * nothing needs the whole corpus in memory.
 */
import { OrtPaddedMaxSim } from "../../src/runtime/kernels/maxsim.js";
import type { EmbeddedDoc, EmbeddingSource } from "../../src/plaid/source.js";
import { Rng } from "../../src/util/rng.js";

/** Vectors per query. */
export const QUERY_TOKENS = 32;
/** Terms (sub-centres) per topic. */
export const TERMS_PER_TOPIC = 8;
/** Topics per document. */
export const DOC_TOPICS = 4;
/** Noise norm of a term around its topic (relative to unit). */
const TERM_SPREAD = 0.8;
/** Noise norm of a token around its term when not given (relative to unit; cosine to its term ~0.89). */
export const DEFAULT_TOKEN_NOISE = 0.5;

function normalizeInPlace(v: Float32Array, o: number, dim: number): void {
  let s = 0;
  for (let t = 0; t < dim; t++) s += (v[o + t] as number) ** 2;
  const inv = 1 / Math.sqrt(s);
  for (let t = 0; t < dim; t++) v[o + t] = (v[o + t] as number) * inv;
}

/** Per-document seed: a 32-bit hash of (seed, i), so nearby documents get unrelated streams. */
function docSeed(seed: number, i: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seed, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Documents "d<i>" for i in 0..docs-1 and queries 0.. (see the file comment). */
export class SyntheticCorpus {
  /** [topics * TERMS_PER_TOPIC, dim] unit term centres. */
  readonly terms: Float32Array;

  constructor(
    readonly seed: number,
    readonly docs: number,
    readonly dim: number,
    readonly tokens: number,
    readonly topics: number,
    readonly tokenNoise = DEFAULT_TOKEN_NOISE,
  ) {
    const rng = new Rng(seed);
    const sd = 1 / Math.sqrt(dim);
    const nTerms = topics * TERMS_PER_TOPIC;
    this.terms = new Float32Array(nTerms * dim);
    const topic = new Float32Array(dim);
    for (let c = 0; c < topics; c++) {
      for (let t = 0; t < dim; t++) topic[t] = rng.normal();
      normalizeInPlace(topic, 0, dim);
      for (let j = 0; j < TERMS_PER_TOPIC; j++) {
        const o = (c * TERMS_PER_TOPIC + j) * dim;
        for (let t = 0; t < dim; t++) this.terms[o + t] = (topic[t] as number) + TERM_SPREAD * sd * rng.normal();
        normalizeInPlace(this.terms, o, dim);
      }
    }
  }

  /** The longest document (tokens + 25%). */
  get maxDocLen(): number {
    return this.tokens + Math.floor(this.tokens / 4);
  }

  /** n vectors near terms of the given topics. Returns [n, dim]. */
  private draw(rng: Rng, topics: Int32Array, n: number): Float32Array {
    const dim = this.dim;
    const sd = this.tokenNoise / Math.sqrt(dim);
    const v = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      const term = (topics[rng.int(topics.length)] as number) * TERMS_PER_TOPIC + rng.int(TERMS_PER_TOPIC);
      const o = r * dim;
      const c = term * dim;
      for (let t = 0; t < dim; t++) v[o + t] = (this.terms[c + t] as number) + sd * rng.normal();
      normalizeInPlace(v, o, dim);
    }
    return v;
  }

  private docTopics(rng: Rng): Int32Array {
    const topics = new Int32Array(DOC_TOPICS);
    for (let j = 0; j < DOC_TOPICS; j++) topics[j] = rng.int(this.topics);
    return topics;
  }

  doc(i: number): EmbeddedDoc {
    const rng = new Rng(docSeed(this.seed, i));
    const topics = this.docTopics(rng);
    const spread = Math.floor(this.tokens / 4);
    const n = this.tokens - spread + rng.int(2 * spread + 1);
    return { id: `d${i}`, vectors: this.draw(rng, topics, n), n };
  }

  /** Query j: QUERY_TOKENS vectors ([32, dim]) from the topics of a random document. */
  query(j: number): { vectors: Float32Array; source: number } {
    const rng = new Rng(docSeed(this.seed + 1_000_003, j));
    const source = rng.int(this.docs);
    const topics = this.docTopics(new Rng(docSeed(this.seed, source)));
    return { vectors: this.draw(rng, topics, QUERY_TOKENS), source };
  }

  /** The corpus as an index build's input, regenerated batch by batch. */
  source(batchSize = 1000): EmbeddingSource {
    return {
      count: this.docs,
      batches: (only?: ReadonlySet<number>, except?: ReadonlySet<number>) => this.batches(batchSize, only, except),
    };
  }

  private async *batches(batchSize: number, only?: ReadonlySet<number>, except?: ReadonlySet<number>): AsyncGenerator<EmbeddedDoc[]> {
    const ids = only ? [...only].sort((a, b) => a - b) : except ? Array.from({ length: this.docs }, (_, i) => i).filter((i) => !except.has(i)) : null;
    const total = ids ? ids.length : this.docs;
    for (let s = 0; s < total; s += batchSize) {
      const batch: EmbeddedDoc[] = [];
      for (let p = s; p < Math.min(total, s + batchSize); p++) batch.push(this.doc(ids ? (ids[p] as number) : p));
      await new Promise((r) => setImmediate(r));
      yield batch;
    }
  }
}

/** The best `capacity` (score, id) pairs seen, best first (ties: the earlier pushed first). */
export class TopK {
  readonly scores: number[] = [];
  readonly ids: number[] = [];
  constructor(readonly capacity = 10) {}
  push(score: number, id: number): void {
    const cap = this.capacity;
    if (this.scores.length === cap && score <= (this.scores[cap - 1] as number)) return;
    let i = this.scores.length;
    if (i === cap) i = cap - 1;
    else {
      this.scores.push(0);
      this.ids.push(0);
    }
    while (i > 0 && (this.scores[i - 1] as number) < score) {
      this.scores[i] = this.scores[i - 1] as number;
      this.ids[i] = this.ids[i - 1] as number;
      i--;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }
}

/** Consecutive documents' vectors in one array. */
export interface Block {
  first: number;
  docs: number;
  /** [rows, dim] */
  vectors: Float32Array;
  /** [docs + 1] row offsets */
  offsets: Int32Array;
  /** Ordinal of each document ([docs]); default first + i. */
  ids?: ArrayLike<number>;
}

/** Documents first..first+count-1, regenerated. */
export function makeBlock(corpus: SyntheticCorpus, first: number, count: number): Block {
  const docs = Array.from({ length: count }, (_, i) => corpus.doc(first + i));
  const offsets = new Int32Array(count + 1);
  docs.forEach((d, i) => (offsets[i + 1] = (offsets[i] as number) + d.n));
  const vectors = new Float32Array((offsets[count] as number) * corpus.dim);
  docs.forEach((d, i) => vectors.set(d.vectors, (offsets[i] as number) * corpus.dim));
  return { first, docs: count, vectors, offsets };
}

/** What `exactTopsOver` needs besides the blocks and queries. */
export interface ExactScan {
  /** Vectors per query. */
  queryTokens: number;
  dim: number;
  /** Longest document (the kernel pads every document to it). */
  docLen: number;
  /** Documents in all blocks, for the progress lines. */
  total: number;
  /** Progress line prefix. */
  label: string;
  /** Pairs kept per query. Default 10. */
  capacity?: number;
}

/**
 * Exact MaxSim top-k of every query over blocks of documents (the fused onnxruntime kernel: products,
 * per-document max and per-query sum in one graph). queries: [queryTokens, dim] each.
 */
export async function exactTopsOver(blocks: Iterable<Block>, queries: Float32Array[], scan: ExactScan): Promise<TopK[]> {
  const { queryTokens, dim } = scan;
  const nq = queries.length;
  const allQ = new Float32Array(nq * queryTokens * dim);
  queries.forEach((q, i) => allQ.set(q, i * queryTokens * dim));
  const kernel = await OrtPaddedMaxSim.create(allQ, nq, queryTokens, dim, scan.docLen);
  const tops = Array.from({ length: nq }, () => new TopK(scan.capacity ?? 10));
  const SUB = 64; // documents per kernel call: 64 x docLen rows x (queries x 32) columns
  const t0 = performance.now();
  let done = 0;
  try {
    for (const block of blocks) {
      for (let s = 0; s < block.docs; s += SUB) {
        const e = Math.min(block.docs, s + SUB);
        const r0 = block.offsets[s] as number;
        const offs = Array.from({ length: e - s + 1 }, (_, i) => (block.offsets[s + i] as number) - r0);
        const scores = await kernel.run(block.vectors.subarray(r0 * dim, (block.offsets[e] as number) * dim), offs);
        for (let d = s; d < e; d++) {
          const id = block.ids ? (block.ids[d] as number) : block.first + d;
          for (let q = 0; q < nq; q++) (tops[q] as TopK).push(scores[(d - s) * nq + q] as number, id);
        }
      }
      done += block.docs;
      if (Math.floor(done / 20_480) !== Math.floor((done - block.docs) / 20_480)) console.log(`  ${scan.label} ${done}/${scan.total} at ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    await kernel.release();
  }
  return tops;
}
