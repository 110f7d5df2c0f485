/**
 * A PostgreSQL index spread over shard nodes, with PL/Proxy on the coordinator.
 *
 *   coordinator  <p>schema (version SHARDED_SCHEMA_VERSION), <p>settings, <p>codec (the reference data
 *                every shard's rows are made with), <p>shards (part -> host, port, database), the
 *                PL/Proxy cluster "<p>cluster" (one partition per shard, in part order, and a user
 *                mapping for the building role) and the proxy functions (shard-functions.ts)
 *   shard i      <p>schema (format SHARD_FORMAT), <p>shard (its part i and the shard count),
 *                <p>documents and <p>vectors of the documents it owns (the single-node tables,
 *                HNSW and GIN indexes included) and the shard functions
 *
 * A document lives on part `hashtext(id) & (shards - 1)`: PostgreSQL's own text hash, the one
 * PL/Proxy's `RUN ON hashtext(id)` routes by, so the shard count is a power of two. Ordinals stay
 * global (the coordinator's next_ordinal), so ties break as on one node and the same documents get
 * the same ordinals.
 *
 * Searches go to the coordinator alone, which fans out through PL/Proxy (every shard in parallel).
 * Writes connect to the owning shards directly with the coordinator's role and password (the ones the
 * user mapping holds) and run one transaction per shard under the coordinator's write lock: a killed
 * write leaves each shard all or nothing. The shards commit one after another, so a write killed
 * between two commits leaves one shard with its part of the write and the other without; the next
 * write takes its ordinals past every shard's largest.
 */
import { ColtsError } from "../errors.js";
import { connect, disconnect, query, type PgSession } from "./connection.js";
import { dropFunctionStatements, proxyFunctionStatements, shardFunctionStatements } from "./shard-functions.js";
import type { Tables } from "./schema.js";
import { parsePgUrl, redactUrl, type PgLocation } from "./url.js";

/** Most shards an index may have. */
export const MAX_SHARDS = 256;

/** One shard node as the coordinator records it. */
export interface ShardNode {
  /** Its partition number: documents whose id hashes to it live there. */
  part: number;
  host: string;
  port: number;
  database: string;
}

/** A shard node in messages: host:port/database (no user, no password). */
export function nodeName(n: ShardNode): string {
  return `shard ${n.part} (${n.host.includes(":") ? `[${n.host}]` : n.host}:${n.port}/${n.database})`;
}

/** Table names of the sharding layout. */
export function shardingTables(prefix: string): { shards: string; shard: string; cluster: string } {
  return { shards: `"${prefix}shards"`, shard: `"${prefix}shard"`, cluster: `${prefix}cluster` };
}

/**
 * The shard nodes named by `urls` for a coordinator: a power of two of them (1..MAX_SHARDS), all
 * distinct and none the coordinator's database, the coordinator's role (and its password, when the
 * URL gives one: PL/Proxy's user mapping holds one role and password for every shard), the same
 * prefix. INPUT_INVALID otherwise.
 */
export function shardNodes(coordinator: PgLocation, urls: readonly string[]): ShardNode[] {
  const n = urls.length;
  if (n < 1 || n > MAX_SHARDS || (n & (n - 1)) !== 0) {
    throw new ColtsError("INPUT_INVALID", `the number of shards must be a power of two from 1 to ${MAX_SHARDS} (PL/Proxy routes by hash & (shards - 1)), got ${n}`);
  }
  const seen = new Set<string>([`${coordinator.host}:${coordinator.port}/${coordinator.database}`]);
  return urls.map((url, part) => {
    const loc = parsePgUrl(url);
    const where = redactUrl(url);
    const bad = (why: string): ColtsError => new ColtsError("INPUT_INVALID", `shard ${where}: ${why}`, { details: { shard: where } });
    if (loc.user !== coordinator.user) throw bad(`connects as ${JSON.stringify(loc.user)}, the coordinator as ${JSON.stringify(coordinator.user)}: shards use the coordinator's role`);
    if (loc.password !== undefined && loc.password !== coordinator.password) throw bad("has another password than the coordinator: shards use the coordinator's role and password");
    if (loc.prefix !== coordinator.prefix) throw bad(`names prefix ${loc.prefix}, the coordinator ${coordinator.prefix}: shards use the coordinator's prefix`);
    const key = `${loc.host}:${loc.port}/${loc.database}`;
    if (seen.has(key)) throw bad("is named twice, or is the coordinator's database");
    seen.add(key);
    return { part, host: loc.host, port: loc.port, database: loc.database };
  });
}

/** The location of a shard: the coordinator's, on the shard's server and database. */
export function shardLocation(coordinator: PgLocation, n: ShardNode): PgLocation {
  const host = n.host.includes(":") ? `[${n.host}]` : n.host;
  const user = encodeURIComponent(coordinator.user);
  const redacted = `postgres://${user}${coordinator.password !== undefined ? ":***" : ""}@${host}:${n.port}/${encodeURIComponent(n.database)}?prefix=${coordinator.prefix}`;
  return { ...coordinator, host: n.host, port: n.port, database: n.database, redacted };
}

/** The shard nodes a coordinator records, in part order (INDEX_CORRUPT when they do not form a power-of-two cluster). */
export async function readShardNodes(s: PgSession): Promise<ShardNode[]> {
  const { shards } = shardingTables(s.location.prefix);
  const r = await query<{ part: number; host: string; port: number; database: string }>(s, "read the shard list", `SELECT part, host, port, database FROM ${shards} ORDER BY part`);
  const nodes = r.rows.map((row) => ({ part: row.part, host: row.host, port: row.port, database: row.database }));
  const n = nodes.length;
  if (n < 1 || (n & (n - 1)) !== 0 || nodes.some((x, i) => x.part !== i)) {
    throw new ColtsError("INDEX_CORRUPT", `${s.location.redacted}: the shard list does not number a power of two of shards from 0`, { details: { location: s.location.redacted } });
  }
  return nodes;
}

/** True when the coordinator's location has a shard list (a sharded index). */
export async function isSharded(s: PgSession): Promise<boolean> {
  const r = await query<{ exists: boolean }>(s, "look for a shard list", "SELECT to_regclass($1) IS NOT NULL AS exists", [shardingTables(s.location.prefix).shards]);
  return r.rows[0]?.exists === true;
}

/** The part of each id: hashtext(id) & (parts - 1), computed by the server (PL/Proxy's routing). */
export async function routeIds(s: PgSession, ids: readonly string[], parts: number): Promise<number[]> {
  if (parts === 1) return ids.map(() => 0);
  const r = await query<{ part: number }>(s, "route documents to shards", "SELECT (hashtext(x) & $2::integer) AS part FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i", [
    [...ids],
    parts - 1,
  ]);
  return r.rows.map((row) => row.part);
}

/** Connects to every shard (in parallel); SHARD_UNAVAILABLE naming the first that cannot be reached (the others are closed). */
export async function connectShards(coordinator: PgLocation, nodes: readonly ShardNode[]): Promise<PgSession[]> {
  const results = await Promise.allSettled(nodes.map((n) => connect(shardLocation(coordinator, n))));
  const failed = results.findIndex((r) => r.status === "rejected");
  if (failed >= 0) {
    await Promise.all(results.map((r) => (r.status === "fulfilled" ? disconnect(r.value) : Promise.resolve())));
    const node = nodes[failed] as ShardNode;
    const cause = (results[failed] as PromiseRejectedResult).reason as unknown;
    throw new ColtsError("SHARD_UNAVAILABLE", `${nodeName(node)} cannot be reached: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      details: { shards: [nodeName(node)] },
    });
  }
  return results.map((r) => (r as PromiseFulfilledResult<PgSession>).value);
}

/** Disconnects every session. */
export async function disconnectAll(sessions: readonly PgSession[]): Promise<void> {
  await Promise.all(sessions.map(disconnect));
}

/**
 * Runs `fn` with a write transaction open on every shard: COMMIT on each (in part order) when it
 * returns, ROLLBACK on each when it throws.
 */
export async function inShardTransactions<T>(sessions: readonly PgSession[], fn: () => Promise<T>): Promise<T> {
  await Promise.all(sessions.map((s) => query(s, "begin a shard transaction", "BEGIN")));
  try {
    const out = await fn();
    for (const s of sessions) await query(s, "commit on a shard", "COMMIT");
    return out;
  } catch (e) {
    await Promise.all(sessions.map((s) => s.client.query("ROLLBACK").catch(() => undefined)));
    throw e;
  }
}

/** A value as a SQL literal, quoted by the server (for DDL, which takes no parameters). */
async function literal(s: PgSession, value: string): Promise<string> {
  const r = await query<{ q: string }>(s, "quote a value", "SELECT quote_literal($1::text) AS q", [value]);
  return r.rows[0]?.q as string;
}

/** A libpq connection string value, quoted as libpq reads it. */
function connValue(v: string): string {
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The connection string of one partition: where, and how long a connection attempt may take (no role or password: the user mapping has them). */
function partitionConnstr(n: ShardNode, connectTimeoutMs: number): string {
  return `host=${connValue(n.host)} port=${n.port} dbname=${connValue(n.database)} connect_timeout=${Math.max(1, Math.round(connectTimeoutMs / 1000))}`;
}

/**
 * Creates the coordinator's side inside the build's transaction: the PL/Proxy extension (when
 * missing; it needs a superuser), the shard list, the cluster with its user mapping and the proxy
 * functions.
 */
export async function setUpCoordinator(s: PgSession, nodes: readonly ShardNode[]): Promise<void> {
  const loc = s.location;
  const { shards, cluster } = shardingTables(loc.prefix);
  const have = await query<{ n: string }>(s, "look for PL/Proxy", "SELECT count(*) AS n FROM pg_extension WHERE extname = 'plproxy'");
  if (have.rows[0]?.n === "0") {
    try {
      await query(s, "create the plproxy extension", "CREATE EXTENSION plproxy");
    } catch (e) {
      throw new ColtsError("DATABASE_ERROR", `${loc.redacted}: a sharded index needs the PL/Proxy extension on the coordinator and it could not be created (${(e as Error).message}); have an administrator run CREATE EXTENSION plproxy`, {
        cause: e,
        details: { location: loc.redacted },
      });
    }
  }
  await query(s, "create the shard list", `CREATE TABLE ${shards} (part integer PRIMARY KEY, host text NOT NULL, port integer NOT NULL, database text NOT NULL)`);
  for (const n of nodes) await query(s, "record a shard", `INSERT INTO ${shards} (part, host, port, database) VALUES ($1, $2, $3, $4)`, [n.part, n.host, n.port, n.database]);
  const partitions: string[] = [];
  for (const n of nodes) partitions.push(`p${n.part} ${await literal(s, partitionConnstr(n, loc.connectTimeoutMs))}`);
  await query(s, "create the PL/Proxy cluster", `CREATE SERVER "${cluster}" FOREIGN DATA WRAPPER plproxy OPTIONS (connection_lifetime '1800', ${partitions.join(", ")})`);
  const credentials = [`user ${await literal(s, loc.user)}`];
  if (loc.password !== undefined) credentials.push(`password ${await literal(s, loc.password)}`);
  await query(s, "create the cluster's user mapping", `CREATE USER MAPPING FOR CURRENT_USER SERVER "${cluster}" OPTIONS (${credentials.join(", ")})`);
  for (const sql of proxyFunctionStatements(loc.prefix, cluster)) await query(s, "create the proxy functions", sql);
}

/** Drops the coordinator's sharding objects (for an overwrite). */
export async function tearDownCoordinator(s: PgSession): Promise<void> {
  const { shards, cluster } = shardingTables(s.location.prefix);
  const plproxy = await query<{ n: string }>(s, "look for PL/Proxy", "SELECT count(*) AS n FROM pg_extension WHERE extname = 'plproxy'");
  // The proxy functions' language exists only with the extension; without it there is nothing of ours to drop.
  if (plproxy.rows[0]?.n !== "0") {
    for (const sql of dropFunctionStatements(s.location.prefix, true)) await query(s, "drop the proxy functions", sql);
    await query(s, "drop the PL/Proxy cluster", `DROP SERVER IF EXISTS "${cluster}" CASCADE`);
  }
  await query(s, "drop the shard list", `DROP TABLE IF EXISTS ${shards}`);
}

/** Creates a shard's own table naming its part, and its functions (the documents and vectors tables are created with the single-node statements). */
export async function setUpShard(s: PgSession, t: Tables, part: number, of: number): Promise<void> {
  const { shard } = shardingTables(s.location.prefix);
  await query(s, "create the shard table", `CREATE TABLE ${shard} (one boolean PRIMARY KEY DEFAULT true CHECK (one), part integer NOT NULL, shards integer NOT NULL)`);
  await query(s, "record the shard's part", `INSERT INTO ${shard} (part, shards) VALUES ($1, $2)`, [part, of]);
  for (const sql of shardFunctionStatements(s.location.prefix, t, shard)) await query(s, "create the shard functions", sql);
}

/** Drops a shard's functions and its part table (for an overwrite; the tables go with dropStatements). */
export async function tearDownShard(s: PgSession): Promise<void> {
  for (const sql of dropFunctionStatements(s.location.prefix, false)) await query(s, "drop the shard functions", sql);
  await query(s, "drop the shard table", `DROP TABLE IF EXISTS ${shardingTables(s.location.prefix).shard}`);
}
