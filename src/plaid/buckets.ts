/** Counting sort of rows into buckets: by the groups they probe (two-level.ts) or by their hint (refine.ts, probe 1). */

/**
 * Counting sort of the rows by the groups they probe. top: [m, probe] group ids per row (distinct
 * within a row) -> rows[start[c] .. start[c + 1]) are the rows that probe group c, ascending.
 * start: [g + 1] and cursor: [g] are scratch the caller reuses; rows holds at least m * probe values.
 */
export function bucketRows(top: Int32Array, m: number, probe: number, start: Int32Array, cursor: Int32Array, rows: Int32Array): void {
  const g = cursor.length;
  start.fill(0);
  for (let i = 0; i < m * probe; i++) {
    const c = (top[i] as number) + 1;
    start[c] = (start[c] as number) + 1;
  }
  for (let c = 0; c < g; c++) start[c + 1] = (start[c + 1] as number) + (start[c] as number);
  cursor.set(start.subarray(0, g));
  for (let r = 0; r < m; r++) {
    for (let p = r * probe; p < (r + 1) * probe; p++) {
      const c = top[p] as number;
      const at = cursor[c] as number;
      rows[at] = r;
      cursor[c] = at + 1;
    }
  }
}
