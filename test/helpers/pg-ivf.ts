/**
 * The IVF lists of a PostgreSQL index (or one shard) checked against what its stored codes say they
 * must be: for every centroid, exactly the documents with a vector assigned to it, each once.
 */
import assert from "node:assert/strict";
import type pg from "pg";

/** centroid -> sorted ordinals, from the vectors table's codes (int32 little-endian). */
async function expectedLists(c: pg.Client, prefix: string): Promise<Map<number, number[]>> {
  const rows = await c.query<{ ordinal: string; codes: Buffer }>(`SELECT ordinal, codes FROM "${prefix}vectors" ORDER BY ordinal`);
  const lists = new Map<number, Set<number>>();
  for (const r of rows.rows) {
    for (let i = 0; i < r.codes.length; i += 4) {
      const centroid = r.codes.readInt32LE(i);
      const set = lists.get(centroid) ?? new Set<number>();
      set.add(Number(r.ordinal));
      lists.set(centroid, set);
    }
  }
  return new Map([...lists.entries()].map(([centroid, set]) => [centroid, [...set].sort((a, b) => a - b)]));
}

/** Asserts the ivf table holds exactly the expected lists (empty stored lists allowed for centroids with no document left). */
export async function assertIvfMatchesCodes(c: pg.Client, prefix: string, what: string): Promise<number> {
  const want = await expectedLists(c, prefix);
  const rows = await c.query<{ centroid: number; ordinals: Buffer }>(`SELECT centroid, ordinals FROM "${prefix}ivf"`);
  const got = new Map<number, number[]>();
  for (const r of rows.rows) {
    const ords: number[] = [];
    for (let i = 0; i < r.ordinals.length; i += 4) ords.push(r.ordinals.readUInt32LE(i));
    assert.equal(new Set(ords).size, ords.length, `${what}: centroid ${r.centroid}'s list repeats an ordinal`);
    if (ords.length > 0) got.set(r.centroid, ords.sort((a, b) => a - b));
  }
  assert.deepEqual(new Map([...got.entries()].sort((a, b) => a[0] - b[0])), new Map([...want.entries()].sort((a, b) => a[0] - b[0])), `${what}: IVF lists differ from the stored codes`);
  return [...want.values()].reduce((n, l) => n + l.length, 0);
}
