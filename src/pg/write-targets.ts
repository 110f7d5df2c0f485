/**
 * Where a write's rows go: the location's own connection (one node), or one connection per shard
 * (sharding.ts), each in its own transaction under the shard's write lock, and the routing of
 * documents to them. Add and delete are written once against `WriteTargets`.
 */
import { ColtsError } from "../errors.js";
import { query, type PgSession } from "./connection.js";
import { removeFromIvf } from "./ivf.js";
import { lockForWrite, type Tables } from "./schema.js";
import { connectShards, disconnectAll, inShardTransactions, readShardNodes, routeIds } from "./sharding.js";

/** The sessions rows are written over, and which of them owns a document. */
export interface WriteTargets {
  /** One session per part (one for a single node). */
  sessions: readonly PgSession[];
  /** The part of each id. */
  route(ids: readonly string[]): Promise<number[]>;
}

/** A single node: every row goes over the location's own session. */
export function singleTarget(s: PgSession): WriteTargets {
  return { sessions: [s], route: (ids) => Promise.resolve(ids.map(() => 0)) };
}

/**
 * Runs `fn` against the write targets of the index at coordinator session `s` (already in its
 * transaction, under its lock): `s` itself for one node; for a sharded index, a connection to each
 * shard with a transaction open and the shard's write lock held, committed when `fn` returns.
 */
export async function withTargets<T>(s: PgSession, sharded: boolean, fn: (targets: WriteTargets) => Promise<T>): Promise<T> {
  if (!sharded) return fn(singleTarget(s));
  const nodes = await readShardNodes(s);
  const sessions = await connectShards(s.location, nodes);
  try {
    return await inShardTransactions(sessions, async () => {
      for (const shard of sessions) await lockForWrite(shard);
      return fn({ sessions, route: (ids) => routeIds(s, ids, nodes.length) });
    });
  } finally {
    await disconnectAll(sessions);
  }
}

/** `items` grouped by the part their id routes to: [part, items] for each part that gets some. */
export async function byPart<T>(targets: WriteTargets, items: readonly T[], idOf: (x: T) => string): Promise<[number, T[]][]> {
  const parts = await targets.route(items.map(idOf));
  const groups = new Map<number, T[]>();
  items.forEach((x, i) => {
    const p = parts[i] as number;
    const g = groups.get(p);
    if (g) g.push(x);
    else groups.set(p, [x]);
  });
  return [...groups.entries()].sort((a, b) => a[0] - b[0]);
}

/** The session of a part. */
export function sessionOf(targets: WriteTargets, part: number): PgSession {
  const s = targets.sessions[part];
  if (!s) throw new ColtsError("INDEX_CORRUPT", `document routed to part ${part}, the index has ${targets.sessions.length}`);
  return s;
}

/** INPUT_INVALID when one of `ids` is already live (looked up on its owning part only). */
export async function refuseLive(targets: WriteTargets, t: Tables, ids: readonly string[]): Promise<void> {
  for (const [part, group] of await byPart(targets, ids, (id) => id)) {
    const live = await query<{ id: string }>(sessionOf(targets, part), "look up ids", `SELECT id FROM ${t.documents} WHERE id = ANY($1::text[]) LIMIT 1`, [group]);
    const id = live.rows[0]?.id;
    if (id !== undefined) throw new ColtsError("INPUT_INVALID", `document id ${JSON.stringify(id)} is already in the index (delete it first to replace it)`, { details: { id } });
  }
}

/** The largest ordinal any part holds, or -1. */
export async function maxOrdinal(targets: WriteTargets, t: Tables): Promise<number> {
  let max = -1;
  for (const s of targets.sessions) {
    const r = await query<{ m: string | null }>(s, "read the largest ordinal", `SELECT max(ordinal) AS m FROM ${t.documents}`);
    const m = r.rows[0]?.m;
    if (m !== null && m !== undefined) max = Math.max(max, Number(m));
  }
  return max;
}

/** Live documents over every part. */
export async function countLive(targets: WriteTargets, t: Tables): Promise<number> {
  let n = 0;
  for (const s of targets.sessions) n += Number((await query<{ n: string }>(s, "count documents", `SELECT count(*) AS n FROM ${t.documents}`)).rows[0]?.n ?? 0);
  return n;
}

/** Deletes `ids` on their owning parts (their IVF entries first); the ids found. */
export async function deleteIds(targets: WriteTargets, t: Tables, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const [part, group] of await byPart(targets, ids, (id) => id)) {
    await removeFromIvf(sessionOf(targets, part), t, group);
    const r = await query<{ id: string }>(sessionOf(targets, part), "delete documents", `DELETE FROM ${t.documents} WHERE id = ANY($1::text[]) RETURNING id`, [group]);
    for (const row of r.rows) found.add(row.id);
  }
  return found;
}
