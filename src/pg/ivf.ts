/**
 * The inverted file (IVF) of a PostgreSQL index: one row of `<p>ivf` per centroid, holding the
 * ordinals of the documents with at least one vector assigned to it (uint32 little-endian, unique),
 * the centroid -> documents lists a folder index keeps in its chunks. It is the first stage of the
 * "plaid" retriever (plaid-search.ts): the query's probed centroids' lists are its candidates, and
 * the lists of the centroids above the score threshold feed PLAID's stage 2.
 *
 * Lists rather than (centroid, ordinal) rows: at 100k documents an index holds about 4M distinct
 * pairs, and a row per pair (24 bytes of header, a primary key and an index on ordinal for deletes)
 * would cost more than the compressed vectors themselves; a list costs 4 bytes per pair.
 *
 * Writes keep it exact inside their transaction: a build or add collects its (centroid, ordinal)
 * pairs per part (`IvfPairs`) and appends them once at the end (`appendIvf`, one upsert per
 * centroid); a delete reads the deleted documents' codes before their rows go and removes their
 * ordinals from those centroids' lists (`removeFromIvf`). So a list never names a deleted document.
 */
import { ColtsError } from "../errors.js";
import { buildIvf } from "../plaid/chunk.js";
import { query, type PgSession } from "./connection.js";
import { int32sOf } from "./rows.js";
import type { Tables } from "./schema.js";

/** Largest ordinal an IVF list can hold (uint32). */
export const MAX_IVF_ORDINAL = 0xffffffff;

/** Centroids upserted per statement. */
const UPSERT_CENTROIDS = 2000;

/**
 * The distinct (centroid, ordinal) pairs of the documents one write puts on one part: each document's
 * codes are collected batch by batch, and grouped at the end by the chunk files' own `buildIvf`.
 */
export class IvfPairs {
  private codes: Int32Array = new Int32Array(4096);
  private doclens: Uint32Array = new Uint32Array(256);
  private ordinals: Uint32Array = new Uint32Array(256);
  private vectors = 0;
  private docs = 0;

  /** Records a document's codes. codes: [doclen] centroid ids. */
  add(ordinal: number, codes: ArrayLike<number>): void {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal > MAX_IVF_ORDINAL) {
      throw new ColtsError("INPUT_INVALID", `ordinal ${ordinal} is past the largest an index can hold (${MAX_IVF_ORDINAL})`);
    }
    this.codes = fit(this.codes, this.vectors + codes.length);
    this.codes.set(codes, this.vectors);
    this.vectors += codes.length;
    this.doclens = fit(this.doclens, this.docs + 1);
    this.ordinals = fit(this.ordinals, this.docs + 1);
    this.doclens[this.docs] = codes.length;
    this.ordinals[this.docs] = ordinal;
    this.docs++;
  }

  /** Distinct pairs recorded. */
  get size(): number {
    return this.lists().reduce((n, l) => n + l.ordinals.length, 0);
  }

  /** The pairs grouped by centroid (ascending), each list in the order recorded. */
  lists(): { centroid: number; ordinals: Uint32Array }[] {
    const codes = this.codes.subarray(0, this.vectors);
    let k = 0;
    for (const c of codes) k = Math.max(k, c + 1);
    const { ivfOffsets, ivfDocs } = buildIvf(codes, this.doclens.subarray(0, this.docs), k); // ivfDocs: local documents, in recorded order
    const grouped = Uint32Array.from(ivfDocs, (local) => this.ordinals[local] as number);
    const out: { centroid: number; ordinals: Uint32Array }[] = [];
    for (let c = 0; c < k; c++) if ((ivfOffsets[c + 1] as number) > (ivfOffsets[c] as number)) out.push({ centroid: c, ordinals: grouped.subarray(ivfOffsets[c], ivfOffsets[c + 1]) });
    return out;
  }
}

/** `a`, or a copy at least twice as long when it holds fewer than `n` values. */
function fit<T extends Int32Array | Uint32Array>(a: T, n: number): T {
  if (n <= a.length) return a;
  const b = new (a.constructor as new (length: number) => T)(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/** A list's bytes (uint32 little-endian). */
export function listBytes(ordinals: Uint32Array): Buffer {
  return Buffer.from(ordinals.buffer, ordinals.byteOffset, ordinals.byteLength);
}

/** A stored list's ordinals; INDEX_CORRUPT for a length that is not a multiple of 4. */
export function listOrdinals(bytes: Buffer, centroid: number, where: string): Uint32Array {
  if (bytes.length % 4 !== 0) throw new ColtsError("INDEX_CORRUPT", `${where}: the IVF list of centroid ${centroid} is ${bytes.length} bytes, not a multiple of 4`, { details: { centroid } });
  const out = new Uint32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Appends the pairs to their centroids' lists (creating missing rows). Inside the write's transaction. */
export async function appendIvf(s: PgSession, t: Tables, pairs: IvfPairs): Promise<void> {
  const lists = pairs.lists();
  for (let i = 0; i < lists.length; i += UPSERT_CENTROIDS) {
    const part = lists.slice(i, i + UPSERT_CENTROIDS);
    await query(
      s,
      "write the IVF lists",
      `INSERT INTO ${t.ivf} (centroid, ordinals) SELECT u.c, u.o FROM unnest($1::integer[], $2::bytea[]) AS u(c, o)
       ON CONFLICT (centroid) DO UPDATE SET ordinals = ${t.ivf}.ordinals || EXCLUDED.ordinals`,
      [part.map((l) => l.centroid), part.map((l) => listBytes(l.ordinals))],
    );
  }
}

/**
 * Removes the documents with these ids from the lists of their centroids, before their rows are
 * deleted (their codes say which lists hold them). Inside the delete's transaction.
 */
export async function removeFromIvf(s: PgSession, t: Tables, ids: readonly string[]): Promise<void> {
  const rows = await query<{ ordinal: string; codes: Buffer }>(
    s,
    "read the codes of deleted documents",
    `SELECT v.ordinal, v.codes FROM ${t.vectors} v JOIN ${t.documents} d ON d.ordinal = v.ordinal WHERE d.id = ANY($1::text[])`,
    [ids],
  );
  const gone = new Map<number, Set<number>>(); // centroid -> ordinals to remove
  for (const r of rows.rows) {
    const codes = int32sOf(r.codes);
    for (const c of codes) {
      const set = gone.get(c);
      if (set) set.add(Number(r.ordinal));
      else gone.set(c, new Set([Number(r.ordinal)]));
    }
  }
  if (gone.size === 0) return;
  const where = s.location.redacted;
  const current = await query<{ centroid: number; ordinals: Buffer }>(s, "read the IVF lists", `SELECT centroid, ordinals FROM ${t.ivf} WHERE centroid = ANY($1::integer[]) FOR UPDATE`, [[...gone.keys()]]);
  const kept = current.rows.map((row) => {
    const drop = gone.get(row.centroid) as Set<number>;
    return { centroid: row.centroid, ordinals: listOrdinals(row.ordinals, row.centroid, where).filter((o) => !drop.has(o)) };
  });
  for (let i = 0; i < kept.length; i += UPSERT_CENTROIDS) {
    const part = kept.slice(i, i + UPSERT_CENTROIDS);
    await query(s, "update the IVF lists", `UPDATE ${t.ivf} SET ordinals = u.o FROM unnest($1::integer[], $2::bytea[]) AS u(c, o) WHERE ${t.ivf}.centroid = u.c`, [
      part.map((l) => l.centroid),
      part.map((l) => listBytes(l.ordinals)),
    ]);
  }
}
