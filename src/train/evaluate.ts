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
import { maxsimScores, normalizeTruncated, type TrainableColbert } from "./model.js";
import { tf } from "./tf.js";
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

/** [n, L, dim] unit vectors and keep mask of a tokenized batch, outside any gradient. */
function encode(model: TrainableColbert, batch: ReturnType<typeof tokenizeQueries>): { vecs: tf.Tensor3D; keep: tf.Tensor2D } {
  return tf.tidy(() => ({ vecs: normalizeTruncated(model.project(batch), model.dim), keep: tf.tensor2d(batch.keep, [batch.rows, batch.length]) }));
}

/** Mean of each measure over the split's queries. */
export function evaluateModel(model: TrainableColbert, tok: ColbertTokenizer, set: EvalSet, opts: EvalOptions = {}): Record<string, number> {
  const bs = opts.batchSize ?? 32;
  const depth = opts.depth ?? 100;
  const qids = [...set.queries.keys()];
  const q = encode(model, tokenizeQueries(tok, qids.map((id) => set.queries.get(id) ?? "")));
  const scores: Float32Array[] = qids.map(() => new Float32Array(set.corpus.length));
  for (let start = 0; start < set.corpus.length; start += bs) {
    const docs = set.corpus.slice(start, start + bs);
    const d = encode(model, tokenizeDocuments(tok, docs.map((d) => documentText(d.title, d.text))));
    const s = tf.tidy(() => maxsimScores(q.vecs, q.keep, d.vecs, d.keep).dataSync());
    tf.dispose([d.vecs, d.keep]);
    for (let i = 0; i < qids.length; i++) (scores[i] as Float32Array).set(s.subarray(i * docs.length, (i + 1) * docs.length), start);
  }
  tf.dispose([q.vecs, q.keep]);
  const run = new Map<string, RunEntry[]>();
  for (const [i, qid] of qids.entries()) {
    const row = scores[i] as Float32Array;
    const entries = set.corpus.map((doc, j) => ({ docid: doc.id, score: row[j] as number }));
    entries.sort((a, b) => b.score - a.score);
    run.set(qid, entries.slice(0, depth));
  }
  return evaluate(run, set.qrels, opts.measures ?? ["ndcg_cut_10"]).mean;
}
