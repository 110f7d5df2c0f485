/**
 * Batching shared by the ColBERT encoder (encoder.ts) and the cross-encoder (cross-encoder.ts):
 * grouping sequences into model calls by padded size, and padding a group into the int64 tensors a
 * BERT graph takes.
 */
import type { InputTensor } from "../runtime/session.js";

/** Limits of one model call. */
export interface BatchLimits {
  /** Most sequences in a batch (>= 1). */
  maxRows: number;
  /**
   * Most padded tokens in a batch: rows x its longest sequence. A sequence longer than this runs
   * alone.
   */
  maxTokens: number;
}

/**
 * Groups sequence indices into batches: sorted by length, longest first (ties in input order), so
 * sequences of similar length share a batch and little is padding; a batch is cut before it would
 * exceed `maxRows` rows or `maxTokens` padded tokens. Every index appears exactly once. The limits are
 * not checked here: each caller checks its own options (their messages name the option the user set).
 */
export function planBatches(lengths: readonly number[], limits: BatchLimits): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => (lengths[b] ?? 0) - (lengths[a] ?? 0) || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const i of order) {
    const len = lengths[i] ?? 0;
    const width = Math.max(longest, len);
    if (current.length > 0 && (current.length >= limits.maxRows || (current.length + 1) * width > limits.maxTokens)) {
      batches.push(current);
      current = [];
    }
    longest = current.length === 0 ? len : Math.max(longest, len);
    current.push(i);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** One sequence of a batch to pad. `attention` defaults to 1 per id, `types` to 0 per id. */
export interface PadRow {
  ids: readonly number[];
  attention?: readonly number[];
  types?: readonly number[];
}

/** The int64 inputs of a BERT graph for one batch, each [rows, longest]. */
export interface PaddedFeeds {
  input_ids: InputTensor;
  attention_mask: InputTensor;
  token_type_ids: InputTensor;
}

/**
 * Pads `rows` to the longest of them as int64 [rows, longest] tensors: ids filled with `padId`,
 * attention and token types with 0 past each row's end.
 */
export function padBatch(rows: readonly PadRow[], padId: number): PaddedFeeds {
  const width = Math.max(0, ...rows.map((r) => r.ids.length));
  const n = rows.length * width;
  const ids = new BigInt64Array(n).fill(BigInt(padId));
  const mask = new BigInt64Array(n);
  const types = new BigInt64Array(n);
  rows.forEach((r, b) => {
    const at = b * width;
    for (let t = 0; t < r.ids.length; t++) {
      ids[at + t] = BigInt(r.ids[t] as number);
      mask[at + t] = BigInt(r.attention ? (r.attention[t] ?? 0) : 1);
      if (r.types) types[at + t] = BigInt(r.types[t] ?? 0);
    }
  });
  const dims = [rows.length, width];
  return { input_ids: { data: ids, dims }, attention_mask: { data: mask, dims }, token_type_ids: { data: types, dims } };
}
