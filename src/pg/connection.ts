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

/** One parameterised statement; failures become ColtsErrors saying `what` was being done. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(s: PgSession, what: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await s.client.query<R>(text, values);
  } catch (cause) {
    throw dbError(s.location, what, cause);
  }
}

/** Closes the connection (errors while closing are ignored: there is nothing left to do). */
export async function disconnect(s: PgSession): Promise<void> {
  await s.client.end().catch(() => undefined);
}
