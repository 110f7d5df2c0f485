/**
 * A corpus file as an EmbeddingSource: documents are read by the corpus reader (src/corpus/) and
 * encoded by a ColBERT model on the fly, so only one batch of float vectors exists at a time. The
 * file is read through once with every rule applied (duplicate ids included) before the model
 * encodes anything, then once per pass the index build makes: the codec sample, then the other
 * documents. Each document is encoded once.
 */
import { checkCorpus, readCorpus, type CheckedCorpus, type CorpusDoc, type CorpusOptions } from "../corpus/reader.js";
import type { ColBERT } from "../encode/colbert.js";
import { ColtsError } from "../errors.js";
import { selected, type EmbeddedDoc, type EmbeddingSource } from "./source.js";

/** Options of {@link encodedCorpusSource}: how to read the corpus, and how to encode it. */
export interface EncodedSourceOptions extends CorpusOptions {
  /** Documents per encode call. Default 256. */
  batchSize?: number;
  /** Store each document's text in the index (for explanations and re-ranking). Default true. */
  storeText?: boolean;
}

/**
 * An EmbeddingSource that reads a JSONL corpus and encodes it with `model`. `corpus` is a file, which
 * is checked first (see `checkCorpus`), or a corpus already checked, whose reading options are used
 * (those in `opts` are then ignored).
 */
export async function encodedCorpusSource(corpus: string | CheckedCorpus, model: ColBERT, opts: EncodedSourceOptions = {}): Promise<EmbeddingSource> {
  const { batchSize = 256, storeText = true, ...reading } = opts;
  const checked = typeof corpus === "string" ? await checkCorpus(corpus, reading) : corpus;
  // Checked once already: later passes need not hold every id again.
  const again: CorpusOptions = { ...checked.options, checkDuplicates: false };
  const encode = async (docs: CorpusDoc[]): Promise<EmbeddedDoc[]> => {
    const vs = await model.encodeDocuments(docs.map((d) => d.text));
    return docs.map((d, i) => {
      const v = vs[i];
      if (!v) throw new ColtsError("WORKER_FAILED", "encoder returned fewer vectors than texts");
      return { id: d.id, vectors: v.vectors, n: v.tokens, metadata: d.metadata, ...(storeText ? { text: d.text } : {}) };
    });
  };
  return {
    count: checked.count,
    async *batches(only?: ReadonlySet<number>, except?: ReadonlySet<number>) {
      let pending: CorpusDoc[] = [];
      for await (const { index, doc } of readCorpus(checked.file, again)) {
        // Skipped before encoding: a build reads the sample once (`only`), then the rest (`except`).
        if (!selected(index, only, except)) continue;
        pending.push(doc);
        if (pending.length >= batchSize) {
          yield await encode(pending);
          pending = [];
        }
      }
      if (pending.length > 0) yield await encode(pending);
    },
  };
}
