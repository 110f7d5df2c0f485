/**
 * A real collection as a benchmark corpus: its documents and test queries encoded once with the
 * generated bench model (tools/collections.ts) at a given dimension, documents renamed "d<i>" (their
 * position) so that recall code can treat them like the synthetic corpus's, and the exact float
 * MaxSim top-10 of every query (tools/float-exhaustive.ts) as the truth.
 */
import path from "node:path";
import { ColBERT } from "../../src/encode/colbert.js";
import { loadBeir } from "../../src/eval/io.js";
import { encodedCorpusSource } from "../../src/plaid/corpus.js";
import { arraySource, type EmbeddedDoc, type EmbeddingSource } from "../../src/plaid/source.js";
import { beirFolder, benchModel, modelArgs, SHARED_DATASETS } from "./collections.js";
import { floatExhaustive, type FloatQuery } from "./float-exhaustive.js";

/** An encoded collection with its truth. */
export interface CollectionCorpus {
  name: string;
  dim: number;
  docs: EmbeddedDoc[];
  /** The first `maxQueries` test queries, encoded ([tokens, dim] each). */
  queries: FloatQuery[];
  /** Exact float MaxSim top-10 per query, as document positions. */
  truth: number[][];
  /** Vectors of all documents. */
  vectors: number;
  encodeSeconds: number;
  truthSeconds: number;
  /** `colts model tiny` arguments of the model. */
  modelArgs: string[];
  /** The documents as a build's source. */
  source(): EmbeddingSource;
}

/** Encodes `name` (from ../shared/datasets) with the bench model at `dim` (made in `workDir` once); throws when the collection is absent. */
export async function collectionCorpus(name: string, dim: number, workDir: string, maxQueries: number): Promise<CollectionCorpus> {
  const dataset = beirFolder(name, workDir);
  if (!dataset) throw new Error(`${name}: ${SHARED_DATASETS} has no such collection`);
  const args = modelArgs(dim);
  const model = await ColBERT.load(await benchModel(path.join(workDir, `model-dim${dim}`), args));
  try {
    const t0 = performance.now();
    const docs: EmbeddedDoc[] = [];
    for await (const batch of (await encodedCorpusSource(path.join(dataset, "corpus.jsonl"), model, { storeText: true })).batches()) {
      for (const d of batch) docs.push({ ...d, id: `d${docs.length}` });
    }
    const { queries } = await loadBeir(dataset, "test", { corpus: false });
    const encoded = (await model.encodeQueries([...queries.values()].slice(0, maxQueries))).map((q) => ({ vectors: q.vectors, tokens: q.tokens }));
    const encodeSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const { tops } = await floatExhaustive(docs, encoded, dim, 10);
    return {
      name,
      dim,
      docs,
      queries: encoded,
      truth: tops,
      vectors: docs.reduce((a, d) => a + d.n, 0),
      encodeSeconds,
      truthSeconds: (performance.now() - t1) / 1000,
      modelArgs: args,
      source: () => arraySource(docs),
    };
  } finally {
    await model.close();
  }
}
