/**
 * How trec_eval orders a run (form_res_rels.c, comp_sim_docno): score descending, ties broken by docid
 * in *descending* strcmp order. The rank column of a run file plays no part. Evaluating and writing use
 * this one order, so a run written by colts and read back ranks exactly as trec_eval ranks it.
 */
import type { RunEntry } from "./types.js";

/** UTF-16 code unit -> a key whose order is code point order (surrogates sort above U+FFFF). */
function unitKey(c: number): number {
  if (c < 0xd800) return c;
  return c >= 0xe000 ? c - 0x800 : c + 0x2000;
}

/**
 * strcmp's order: C compares UTF-8 bytes, and UTF-8 byte order is code point order. JavaScript's `<`
 * compares UTF-16 code units, which differs only between astral characters and U+E000..U+FFFF.
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitKey(x) - unitKey(y);
  }
  return a.length - b.length;
}

/** trec_eval's ranking comparator: higher score first, then docid descending. */
export function compareEntries(a: RunEntry, b: RunEntry): number {
  if (a.score > b.score) return -1;
  if (a.score < b.score) return 1;
  return compareIds(b.docid, a.docid);
}

/** A new array of the entries in trec_eval's rank order (the input is left as it is). */
export function rankEntries(entries: readonly RunEntry[]): RunEntry[] {
  return [...entries].sort(compareEntries);
}
