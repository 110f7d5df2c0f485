/**
 * In-place upgrade of a PostgreSQL index written by an older colts to the current schema, without
 * encoding anything again: what the newer schema adds is made from what the older one stored.
 *
 *   version 2 (one node) -> 4:   settings gains fde_enabled (true: every version-2 document has its
 *                                FDE), documents.fde may be NULL, and the ivf table is created and
 *                                filled from the stored codes
 *   version 3 (sharded)  -> 5:   the same on the coordinator (settings) and on every shard (documents,
 *                                ivf); each shard's functions and the coordinator's proxies are
 *                                replaced by the current ones (f_ivf and f_admit are new, f_sizes
 *                                reports the ivf table)
 *
 * One transaction per node, under the index's write lock (as every write): the shards commit first
 * and the coordinator last. A shard that already records the current version (an upgrade killed
 * between two commits) is left as it is, so running the upgrade again finishes the job. Version 1
 * cannot be upgraded: its documents have no FDEs and no text search vectors, and its settings no FDE
 * parameters; it stays refused (INDEX_VERSION, rebuild with overwrite).
 */
import { ColtsError } from "../errors.js";
import { connect, disconnect, inTransaction, query, type PgSession } from "./connection.js";
import { appendIvf, IvfPairs } from "./ivf.js";
import { coltsSchemaRow, indexExists, ivfTableStatement, lockForWrite, readSchemaRow, SCHEMA_VERSION, SHARD_FORMAT, SHARDED_SCHEMA_VERSION, tables, type Tables } from "./schema.js";
import { int32sOf } from "./rows.js";
import { dropFunctionStatements, proxyFunctionStatements, shardFunctionStatements } from "./shard-functions.js";
import { connectShards, disconnectAll, inShardTransactions, readShardNodes, shardingTables } from "./sharding.js";
import { parsePgUrl } from "./url.js";

/** The single-node schema version this module upgrades from. */
export const UPGRADABLE_VERSION = 2;
/** The sharded (coordinator and shard) schema version this module upgrades from. */
export const UPGRADABLE_SHARDED_VERSION = 3;

/** What `upgradePgIndex` did. */
export interface PgUpgradeResult {
  /** The schema version found. */
  from: number;
  /** The schema version now recorded (equal to `from` when there was nothing to do). */
  to: number;
  /** Documents whose codes were read into IVF lists (0 when there was nothing to do). */
  documents: number;
}

/** How the IVF lists are filled from the stored codes. */
export interface PgUpgradeOptions {
  /**
   * Documents whose codes are read per statement (keyset pages by ordinal). Default 5,000; range
   * 1..1,000,000. More: fewer round trips, more memory per page.
   */
  pageDocs?: number;
  /**
   * Codes collected before they are appended to the lists (one upsert per centroid each time).
   * Default 16M (64 MB of codes); range 1..2^28. Less: less memory, but every list is rewritten once
   * per append, so more writing on a large index.
   */
  appendVectors?: number;
}

/** The options with their defaults applied and checked. */
type Fill = Required<PgUpgradeOptions>;

const DEFAULT_PAGE_DOCS = 5000;
const DEFAULT_APPEND_VECTORS = 16 * 2 ** 20;

function checkedOption(value: number | undefined, fallback: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) throw new ColtsError("INPUT_INVALID", `${name} must be an integer in 1..${max}, got ${v}`, { details: { field: name } });
  return v;
}

/**
 * Upgrades the index at `url` to this colts' schema. Nothing to do (the current version): returns
 * with `to` equal to `from`. INDEX_NOT_FOUND without an index, INDEX_VERSION for version 1 or a
 * version newer than this colts, INDEX_CORRUPT for a shard's URL (name the coordinator) or a table
 * that is not colts'; a shard that cannot be reached is SHARD_UNAVAILABLE, and nothing is changed on
 * the coordinator then.
 */
export async function upgradePgIndex(url: string, opts: PgUpgradeOptions = {}): Promise<PgUpgradeResult> {
  const fill: Fill = {
    pageDocs: checkedOption(opts.pageDocs, DEFAULT_PAGE_DOCS, 1_000_000, "pageDocs"),
    appendVectors: checkedOption(opts.appendVectors, DEFAULT_APPEND_VECTORS, 2 ** 28, "appendVectors"),
  };
  const location = parsePgUrl(url);
  const s = await connect(location);
  try {
    const where = `${location.redacted} (prefix ${location.prefix})`;
    if (!(await indexExists(s))) throw new ColtsError("INDEX_NOT_FOUND", `no colts index at ${where}: nothing to upgrade`, { details: { location: location.redacted } });
    const t = tables(location.prefix);
    // The version is read under the write lock: a concurrent upgrade either holds the lock
    // (INDEX_BUSY here) or has committed, and then this one finds nothing to do.
    return await inTransaction(s, async () => {
      await lockForWrite(s);
      const from = await upgradableVersion(s, where);
      if (from === SCHEMA_VERSION || from === SHARDED_SCHEMA_VERSION) return { from, to: from, documents: 0 };
      const to = from === UPGRADABLE_VERSION ? SCHEMA_VERSION : SHARDED_SCHEMA_VERSION;
      await query(s, "add settings.fde_enabled", `ALTER TABLE ${t.settings} ADD COLUMN fde_enabled boolean NOT NULL DEFAULT true`);
      await query(s, "add settings.fde_enabled", `ALTER TABLE ${t.settings} ALTER COLUMN fde_enabled DROP DEFAULT`);
      const documents = from === UPGRADABLE_VERSION ? await upgradeDocuments(s, t, fill) : await upgradeShards(s, t, fill);
      await setVersion(s, t, to);
      if (from === UPGRADABLE_SHARDED_VERSION) await replaceFunctions(s, true, proxyFunctionStatements(location.prefix, shardingTables(location.prefix).cluster));
      return { from, to, documents };
    });
  } finally {
    await disconnect(s);
  }
}

/**
 * The schema version of the location: the current ones (nothing to do) or an upgradable one;
 * INDEX_CORRUPT for a shard or a table that is not colts', INDEX_VERSION for any other version.
 */
async function upgradableVersion(s: PgSession, where: string): Promise<number> {
  const v = (await coltsSchemaRow(s, where, "upgrade its coordinator")).version;
  if (v === SCHEMA_VERSION || v === SHARDED_SCHEMA_VERSION || v === UPGRADABLE_VERSION || v === UPGRADABLE_SHARDED_VERSION) return v;
  const hint = v > SHARDED_SCHEMA_VERSION ? "upgrade colts" : "it cannot be upgraded in place (it stored no FDEs and no text search vectors): rebuild it with overwrite";
  throw new ColtsError("INDEX_VERSION", `${where}: schema version ${v}; this colts upgrades ${UPGRADABLE_VERSION} and ${UPGRADABLE_SHARDED_VERSION}; ${hint}`, {
    details: { location: s.location.redacted, version: v },
  });
}

/** Every shard in its own transaction under its lock; a shard already at the current version is skipped. Returns the documents read. */
async function upgradeShards(s: PgSession, t: Tables, fill: Fill): Promise<number> {
  const sessions = await connectShards(s.location, await readShardNodes(s));
  try {
    return await inShardTransactions(sessions, async () => {
      let documents = 0;
      for (const shard of sessions) {
        await lockForWrite(shard);
        const row = await readSchemaRow(shard);
        if (row?.format !== SHARD_FORMAT) throw new ColtsError("INDEX_CORRUPT", `${shard.location.redacted}: not a shard of this index`, { details: { location: shard.location.redacted } });
        if (row.version === SHARDED_SCHEMA_VERSION) continue;
        if (row.version !== UPGRADABLE_SHARDED_VERSION) {
          throw new ColtsError("INDEX_VERSION", `${shard.location.redacted}: shard schema version ${row.version}, expected ${UPGRADABLE_SHARDED_VERSION} or ${SHARDED_SCHEMA_VERSION}`, {
            details: { location: shard.location.redacted, version: row.version },
          });
        }
        documents += await upgradeDocuments(shard, t, fill);
        await replaceFunctions(shard, false, shardFunctionStatements(shard.location.prefix, t, shardingTables(shard.location.prefix).shard));
        await setVersion(shard, t, SHARDED_SCHEMA_VERSION);
      }
      return documents;
    });
  } finally {
    await disconnectAll(sessions);
  }
}

/** The documents side of one node: fde may be NULL, and the ivf table made from the stored codes. Returns the documents read. */
async function upgradeDocuments(s: PgSession, t: Tables, fill: Fill): Promise<number> {
  await query(s, "let documents.fde be NULL", `ALTER TABLE ${t.documents} ALTER COLUMN fde DROP NOT NULL`);
  await query(s, "create the IVF table", ivfTableStatement(t));
  let pairs = new IvfPairs();
  let pending = 0;
  let documents = 0;
  // Keyset pages in ordinal order: each list is appended in ascending ordinals, as a build writes it.
  for (let after = -1; ; ) {
    const page = await query<{ ordinal: string; codes: Buffer }>(s, "read the stored codes", `SELECT ordinal, codes FROM ${t.vectors} WHERE ordinal > $1 ORDER BY ordinal LIMIT $2`, [after, fill.pageDocs]);
    for (const r of page.rows) {
      const codes = int32sOf(r.codes); // [doclen] centroid ids
      pairs.add(Number(r.ordinal), codes);
      pending += codes.length;
    }
    documents += page.rows.length;
    const last = page.rows.length < fill.pageDocs;
    if (pending >= fill.appendVectors || (last && pending > 0)) {
      await appendIvf(s, t, pairs);
      pairs = new IvfPairs();
      pending = 0;
    }
    if (last) return documents;
    after = Number(page.rows[page.rows.length - 1]?.ordinal);
  }
}

/** Drops a node's shard functions (or the coordinator's proxies, `proxies`) and creates `statements`. */
async function replaceFunctions(s: PgSession, proxies: boolean, statements: readonly string[]): Promise<void> {
  for (const sql of dropFunctionStatements(s.location.prefix, proxies)) await query(s, "drop the old functions", sql);
  for (const sql of statements) await query(s, "create the current functions", sql);
}

async function setVersion(s: PgSession, t: Tables, version: number): Promise<void> {
  await query(s, "record the schema version", `UPDATE ${t.schema} SET version = $1`, [version]);
}
