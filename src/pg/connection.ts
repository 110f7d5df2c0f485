/**
 * Connections to a PostgreSQL location, and the translation of the driver's errors into ColtsErrors
 * whose messages name the location by its redacted URL (never the password, never a statement's
 * parameter values).
 */
import pg from "pg";
import { ColtsError } from "../errors.js";
import type { PgLocation } from "./url.js";

/** One open connection; `location` says where it goes (for messages). */
export interface PgSession {
  client: pg.Client;
  location: PgLocation;
}

/** SQLSTATE classes and driver codes that mean "cannot reach or use the server" rather than "this statement failed". */
const UNAVAILABLE_STATES = /^(08|53|57P0|28)/;
const UNAVAILABLE_SYSCALLS = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT", "EPIPE", "ENOENT", "EAI_AGAIN"]);

/** The driver's error (or anything thrown while talking to the server) as a ColtsError; ColtsErrors pass through. */
export function dbError(location: PgLocation, what: string, cause: unknown): ColtsError {
  if (cause instanceof ColtsError) return cause;
  const e = cause as { code?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : String(cause);
  // Connection-level failures carry the host in their text at most; a statement's values never
  // appear in PostgreSQL's primary message (only in `detail`, which is not printed).
  const timedOut = /timeout/i.test(message) && code === "";
  const unavailable = UNAVAILABLE_STATES.test(code) || UNAVAILABLE_SYSCALLS.has(code) || timedOut || /Connection terminated/i.test(message);
  const details = { location: location.redacted, ...(code ? { sqlstate: code } : {}) };
  if (code === "57014") return new ColtsError("TIMEOUT", `${location.redacted}: ${what}: cancelled by statement_timeout (${location.statementTimeoutMs} ms)`, { cause, details });
  if (unavailable) return new ColtsError("DATABASE_UNAVAILABLE", `${location.redacted}: ${what}: ${message}`, { cause, details });
  return new ColtsError("DATABASE_ERROR", `${location.redacted}: ${what}: ${message}${code ? ` (SQLSTATE ${code})` : ""}`, { cause, details });
}

/** Connects with the location's timeouts; DATABASE_UNAVAILABLE when the server cannot be reached or refuses the login. */
export async function connect(location: PgLocation): Promise<PgSession> {
  const client = new pg.Client({
    host: location.host,
    port: location.port,
    database: location.database,
    user: location.user,
    ...(location.password !== undefined ? { password: location.password } : {}),
    connectionTimeoutMillis: location.connectTimeoutMs,
    ...(location.statementTimeoutMs > 0 ? { statement_timeout: location.statementTimeoutMs } : {}),
    // A write whose client dies between statements must not hold its locks forever; an hour leaves
    // room for compressing a large batch between two INSERTs of a build.
    idle_in_transaction_session_timeout: 3_600_000,
    application_name: "colts",
    ssl: location.sslmode === "disable" ? false : location.sslmode === "require" ? { rejectUnauthorized: false } : true,
  });
  // An error on an idle connection (server restart) must not crash the process: the next query reports it.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw dbError(location, "cannot connect", cause);
  }
  return { client, location };
}

/** How a transaction starts: read-write, or a read-only snapshot that every statement of a search shares. */
export type TransactionKind = "write" | "read snapshot";

/** Runs `fn` in one transaction: COMMIT when it returns, ROLLBACK when it throws (the error is passed on). */
export async function inTransaction<T>(s: PgSession, fn: () => Promise<T>, kind: TransactionKind = "write"): Promise<T> {
  await query(s, "begin a transaction", kind === "write" ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const out = await fn();
    await query(s, "commit", "COMMIT");
    return out;
  } catch (e) {
    await s.client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

/**
 * One parameterised statement; failures become ColtsErrors saying `what` was being done.
 * deadlineMs: a client-side limit (node-postgres' query_timeout) for servers that may not answer at
 * all, where statement_timeout cannot help (a frozen server, or one stuck waiting on one). When it
 * passes, the statement is abandoned with TIMEOUT (`details.deadlineMs`) and the connection is left
 * busy: the caller must `reconnect` before using the session again.
 */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(s: PgSession, what: string, text: string, values: unknown[] = [], deadlineMs?: number): Promise<pg.QueryResult<R>> {
  try {
    if (deadlineMs === undefined) return await s.client.query<R>(text, values);
    // query_timeout is read from the query's config by node-postgres but missing from its types.
    const config: pg.QueryConfig & { query_timeout: number } = { text, values, query_timeout: deadlineMs };
    return await s.client.query<R>(config);
  } catch (cause) {
    if (deadlineMs !== undefined && cause instanceof Error && cause.message === QUERY_READ_TIMEOUT) {
      throw new ColtsError("TIMEOUT", `${s.location.redacted}: ${what}: no answer within ${deadlineMs} ms`, { cause, details: { location: s.location.redacted, deadlineMs } });
    }
    throw dbError(s.location, what, cause);
  }
}

/** node-postgres' error message when a query_timeout passes. */
const QUERY_READ_TIMEOUT = "Query read timeout";

/** True for the TIMEOUT `query` throws when its deadline passes (the session then needs `reconnect`). */
export function missedDeadline(e: unknown): boolean {
  return e instanceof ColtsError && e.code === "TIMEOUT" && typeof e.details?.["deadlineMs"] === "number";
}

/** How long closing a connection may wait for the server before the socket is simply dropped. */
const CLOSE_GRACE_MS = 1000;

/** Drops the connection's socket at once (for a server that does not answer). */
function dropSocket(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * Closes the connection (errors while closing are ignored: there is nothing left to do). A server
 * that does not answer within CLOSE_GRACE_MS has its socket dropped, so closing never hangs.
 */
export async function disconnect(s: PgSession): Promise<void> {
  const client = s.client;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      dropSocket(client);
      resolve();
    }, CLOSE_GRACE_MS);
  });
  await Promise.race([client.end().catch(() => undefined), late]);
  clearTimeout(timer);
}

/**
 * Replaces the session's connection by a new one to the same location (after a missed deadline left
 * the old one busy). The old socket is dropped; its server process ends when the server notices.
 */
export async function reconnect(s: PgSession): Promise<void> {
  dropSocket(s.client);
  s.client = (await connect(s.location)).client;
}
