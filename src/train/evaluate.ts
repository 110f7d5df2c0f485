/**
 * Evaluation during training: encode a (small) BEIR split with the model being trained, rank every
 * document for every query by exact MaxSim, and compute measures with the project's metrics. Brute
 * force on purpose (no index to rebuild after each step); meant for dev sets of a few thousand
 * documents. For the full pipeline, export and use `colts index build` + `colts eval`.
 */
import type { ColbertTokenizer } from "../encode/tokenize.js";
import { evaluate } from "../eval/metrics.js";
import type { BeirDoc, Qrels, RunEntry } from "../eval/types.js";
import { tokenizeDocuments, tokenizeQueries } from "./data.js";
import type { OrtTrainer } from "./ort/trainer.js";
import { documentText } from "../corpus/reader.js";

export interface EvalSet {
  corpus: BeirDoc[];
  queries: Map<string, string>;
  qrels: Qrels;
}

export interface EvalOptions {
  /** Measures in trec_eval names. Default ["ndcg_cut_10"]. */
  measures?: string[];
  /** Documents encoded per forward pass. Default 32. */
  batchSize?: number;
  /** Documents kept per query. Default 100. */
  depth?: number;
}

/** Unit vectors ([rows, L, d]) of a tokenized batch at the trainer's largest trained dim d. */
async function encode(trainer: OrtTrainer, batch: ReturnType<typeof tokenizeQueries>): Promise<{ vectors: Float32Array; keep: Float32Array; rows: number; length: number }> {
  const d = Math.max(...trainer.dims);
  return { vectors: (await trainer.embed(batch)).get(d) as Float32Array, keep: batch.keep, rows: batch.rows, length: batch.length };
}

/**
 * Mean of each measure over the split's queries, ranking by exact MaxSim at the largest trained dim
 * (the model's full dim unless `--matryoshka` leaves it out).
 */
export async function evaluateModel(trainer: OrtTrainer, tok: ColbertTokenizer, set: EvalSet, opts: EvalOptions = {}): Promise<Record<string, number>> {
  const bs = opts.batchSize ?? 32;
  const depth = opts.depth ?? 100;
  const d = Math.max(...trainer.dims);
  const qids = [...set.queries.keys()];
  const q = await encode(trainer, tokenizeQueries(tok, qids.map((id) => set.queries.get(id) ?? "")));
  const scores: Float32Array[] = qids.map(() => new Float32Array(set.corpus.length));
  // Queries are scored in blocks of QUERY_BLOCK so the [queries x tokens, documents x tokens] product stays small.
  const QUERY_BLOCK = 64;
  for (let start = 0; start < set.corpus.length; start += bs) {
    const docs = set.corpus.slice(start, start + bs);
    const dv = await encode(trainer, tokenizeDocuments(tok, docs.map((x) => documentText(x.title, x.text))));
    for (let q0 = 0; q0 < qids.length; q0 += QUERY_BLOCK) {
      const rows = Math.min(QUERY_BLOCK, qids.length - q0);
      const span = q.length * d;
      const block = { vectors: q.vectors.subarray(q0 * span, (q0 + rows) * span), keep: q.keep.subarray(q0 * q.length, (q0 + rows) * q.length), rows, length: q.length };
      const s = await trainer.scoreAll(d, block, dv);
      for (let i = 0; i < rows; i++) (scores[q0 + i] as Float32Array).set(s.subarray(i * docs.length, (i + 1) * docs.length), start);
    }
  }
  const run = new Map<string, RunEntry[]>();
  for (const [i, qid] of qids.entries()) {
    const row = scores[i] as Float32Array;
    const entries = set.corpus.map((doc, j) => ({ docid: doc.id, score: row[j] as number }));
    entries.sort((a, b) => b.score - a.score);
    run.set(qid, entries.slice(0, depth));
  }
  return evaluate(run, set.qrels, opts.measures ?? ["ndcg_cut_10"]).mean;
}
