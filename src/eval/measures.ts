/**
 * Measure names: trec_eval's (`ndcg_cut_10`, `P_10`, `recall_100`, `map`, `map_cut_100`, `recip_rank`,
 * `ndcg`, `Rprec`, `success_5`) and friendly aliases, case-insensitive (`ndcg@10`, `p@10`,
 * `recall@100`, `mrr@10`, `mrr`, `map`, `map@100`, `success@5`, `judged@10`, `rprec`).
 * `judged_10` / `judged@10` is not a trec_eval 9.0.7 measure: it follows ir_measures' Judged@k.
 */
import { ColtsError } from "../errors.js";

/** The measure family, trec_eval's name (`recip_rank` is MRR, `P` precision, `judged` ir_measures' Judged). */
export type MeasureKind = "map" | "ndcg" | "recip_rank" | "P" | "recall" | "Rprec" | "success" | "judged";

/** A parsed measure: `cutoff` is the k of @k, undefined for measures over the whole ranking. */
export interface MeasureSpec {
  /** The name as the caller wrote it (results are keyed by it). */
  name: string;
  /** Which measure. */
  kind: MeasureKind;
  /** k of @k (a positive integer), or undefined for the whole ranking. */
  cutoff: number | undefined;
}

/** trec_eval spellings: whole-ranking names and `<prefix>_<k>` names. */
const TREC_WHOLE: Record<string, MeasureKind> = { map: "map", ndcg: "ndcg", recip_rank: "recip_rank", Rprec: "Rprec" };
const TREC_CUT: Record<string, MeasureKind> = {
  map_cut: "map",
  ndcg_cut: "ndcg",
  P: "P",
  recall: "recall",
  success: "success",
  judged: "judged",
};
/** Alias prefixes (lower case); `cut` says whether `@k` is required (true), optional or forbidden. */
const ALIASES: Record<string, { kind: MeasureKind; cut: "required" | "optional" | "none" }> = {
  ndcg: { kind: "ndcg", cut: "optional" },
  mrr: { kind: "recip_rank", cut: "optional" },
  map: { kind: "map", cut: "optional" },
  p: { kind: "P", cut: "required" },
  recall: { kind: "recall", cut: "required" },
  success: { kind: "success", cut: "required" },
  judged: { kind: "judged", cut: "required" },
  rprec: { kind: "Rprec", cut: "none" },
};

const KNOWN =
  "ndcg_cut_K, P_K, recall_K, map, map_cut_K, recip_rank, ndcg, Rprec, success_K, judged_K " +
  "or ndcg@K, p@K, recall@K, mrr@K, mrr, map, map@K, ndcg, success@K, judged@K, rprec (K a positive integer)";

function unknown(name: string): ColtsError {
  return new ColtsError("INPUT_INVALID", `unknown measure "${name}"; known: ${KNOWN}`, { details: { measure: name } });
}

function cutoffOf(digits: string, name: string): number {
  const k = Number(digits);
  if (!Number.isSafeInteger(k) || k < 1) throw new ColtsError("INPUT_INVALID", `measure "${name}": cutoff must be a positive integer`);
  return k;
}

/** Parses a trec_eval or alias measure name (see the file comment); throws INPUT_INVALID listing the known ones. */
export function parseMeasure(name: string): MeasureSpec {
  const whole = TREC_WHOLE[name];
  if (whole) return { name, kind: whole, cutoff: undefined };
  const trec = /^([A-Za-z_]+)_(\d+)$/.exec(name);
  const trecKind = trec ? TREC_CUT[trec[1] ?? ""] : undefined;
  if (trec && trecKind) return { name, kind: trecKind, cutoff: cutoffOf(trec[2] ?? "", name) };

  const alias = /^([a-z]+)(?:@(\d+))?$/.exec(name.toLowerCase());
  const a = alias ? ALIASES[alias[1] ?? ""] : undefined;
  if (!alias || !a) throw unknown(name);
  const digits = alias[2];
  if (digits === undefined) {
    if (a.cut === "required") throw new ColtsError("INPUT_INVALID", `measure "${name}" needs a cutoff, e.g. "${name}@10"`);
    return { name, kind: a.kind, cutoff: undefined };
  }
  if (a.cut === "none") throw unknown(name);
  return { name, kind: a.kind, cutoff: cutoffOf(digits, name) };
}
