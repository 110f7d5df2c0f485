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
import type { EncodedRows, OrtTrainer } from "./ort/trainer.js";
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
async function encode(trainer: OrtTrainer, batch: ReturnType<typeof tokenizeQueries>): Promise<EncodedRows> {
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
  for (let start = 0; start < set.corpus.length; start += bs) {
    const docs = set.corpus.slice(start, start + bs);
    const s = await trainer.scoreAll(d, q, await encode(trainer, tokenizeDocuments(tok, docs.map((x) => documentText(x.title, x.text)))));
    for (let i = 0; i < qids.length; i++) (scores[i] as Float32Array).set(s.subarray(i * docs.length, (i + 1) * docs.length), start);
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
