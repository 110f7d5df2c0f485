/**
 * Text in, ranked documents out: a PLAID index plus the ColBERT model its documents were encoded
 * with. Queries are encoded in the model's worker pool; explanations re-encode the stored document
 * text and report, for each query token, the document token it matched and the similarity.
 */
import { ColBERT, type LoadOptions } from "../encode/colbert.js";
import { maxsimDetailed } from "../encode/multivector.js";
import { ColtsError } from "../errors.js";
import { PlaidIndex, type OpenOptions, type SearchHit, type SearchOptions } from "../index/plaid-index.js";

export interface TokenMatch {
  /** Query token (markers and [MASK] expansion tokens included). */
  queryToken: string;
  /** Best-matching document token. */
  documentToken: string;
  /** Position of that token among the document's kept vectors. */
  documentPosition: number;
  similarity: number;
}

export interface ExplainedHit extends SearchHit {
  /** Present when `explain` was asked and the index stores the document's text. */
  explanation?: TokenMatch[];
}

export interface SearcherOptions extends LoadOptions, Pick<OpenOptions, "verify"> {
  /** Model to encode queries with. Default: the model recorded in the index. */
  model?: string;
  /** An already loaded model (shared by several searchers); takes precedence over `model`. */
  colbert?: ColBERT;
}

export class Searcher {
  private constructor(
    readonly index: PlaidIndex,
    readonly model: ColBERT,
    private readonly ownsModel: boolean,
  ) {}

  static async open(dir: string, opts: SearcherOptions = {}): Promise<Searcher> {
    const index = await PlaidIndex.open(dir, { ...(opts.verify !== undefined ? { verify: opts.verify } : {}) });
    try {
      const name = opts.model ?? index.manifest.model;
      if (!opts.colbert && !name) throw new ColtsError("USAGE", `${dir} records no model; pass one to encode queries with`);
      const model = opts.colbert ?? (await ColBERT.load(name as string, opts));
      if (model.dim !== index.manifest.dim) {
        throw new ColtsError("DIM_UNSUPPORTED", `model ${name ?? ""} produces ${model.dim}-d vectors, the index holds ${index.manifest.dim}-d vectors`);
      }
      return new Searcher(index, model, !opts.colbert);
    } catch (e) {
      await index.close();
      throw e;
    }
  }

  /** Searches each query; one ranked list per query. */
  async search(queries: readonly string[], opts: SearchOptions & { explain?: boolean } = {}): Promise<ExplainedHit[][]> {
    const encoded = await this.model.encodeQueries(queries);
    const out: ExplainedHit[][] = [];
    for (const q of encoded) {
      const hits: ExplainedHit[] = await this.index.search(q, opts);
      if (opts.explain) await this.explain(q, hits);
      out.push(hits);
    }
    return out;
  }

  private async explain(q: Parameters<PlaidIndex["search"]>[0] & { tokenIds: Int32Array }, hits: ExplainedHit[]): Promise<void> {
    const texts = this.index.texts(hits.map((h) => h.ordinal));
    const withText = hits.map((h, i) => ({ h, text: texts[i] })).filter((x): x is { h: ExplainedHit; text: string } => typeof x.text === "string");
    const docs = await this.model.encodeDocuments(withText.map((x) => x.text));
    const qTokens = this.model.tokenStrings(q);
    withText.forEach(({ h }, i) => {
      const d = docs[i];
      if (!d) return;
      const dTokens = this.model.tokenStrings(d);
      const r = maxsimDetailed({ ...q, vectors: q.vectors }, d);
      h.explanation = qTokens.map((queryToken, t) => ({
        queryToken,
        documentToken: dTokens[r.best[t] ?? 0] ?? "",
        documentPosition: r.best[t] ?? -1,
        similarity: r.sims[t] ?? 0,
      }));
    });
  }

  async close(): Promise<void> {
    await this.index.close();
    if (this.ownsModel) await this.model.close();
  }
}
