/**
 * PostgreSQL index locations: `postgres://user:password@host:port/database?prefix=colts_&...`
 * (`postgresql://` too), accepted wherever an index folder is. A location is one index: the tables
 * whose names start with `prefix` in that database, so one database can hold several indexes.
 *
 * Passwords never reach a message: every error and log line names a location by `redactUrl`.
 */
import os from "node:os";
import { ColtsError } from "../errors.js";

/** A parsed location: where to connect, with which settings, and which tables form the index. */
export interface PgLocation {
  /** Host name, IP address (IPv6 without brackets), or a Unix socket folder (starts with "/"). Default "localhost". */
  host: string;
  /** TCP port (also names the socket file in a socket folder). Default 5432. */
  port: number;
  /** Database name. Default: the user name (libpq's rule). */
  database: string;
  /** Role to connect as. Default: PGUSER, else the operating-system user. */
  user: string;
  /** Password from the URL, else PGPASSWORD; undefined for password-less authentication (trust, peer). */
  password: string | undefined;
  /**
   * Table-name prefix of this index (`?prefix=`). Default "colts_". Lower-case letters, digits and
   * "_", starting with a letter or "_", at most 40 characters (table names stay within PostgreSQL's 63).
   */
  prefix: string;
  /** `?connect_timeout=` seconds (libpq's name): how long a connection attempt may take. Default 10; 1..3600. */
  connectTimeoutMs: number;
  /**
   * `?statement_timeout=` milliseconds: the server cancels any one statement running longer. Default
   * 0 (no limit; a build's statements are short, but a search over a large filtered corpus is one
   * statement). 0..86,400,000.
   */
  statementTimeoutMs: number;
  /** `?sslmode=`: "disable" (default), "require" (encrypted, certificate not checked) or "verify-full". */
  sslmode: "disable" | "require" | "verify-full";
  /** The URL with its password replaced (for messages). */
  redacted: string;
}

/** Table prefixes: a strict identifier pattern, so a prefix can be spliced into SQL text safely. */
export const PREFIX_PATTERN = /^[a-z_][a-z0-9_]{0,39}$/;
/** The prefix when the URL names none. */
export const DEFAULT_PREFIX = "colts_";

const PARAMS = new Set(["prefix", "connect_timeout", "statement_timeout", "sslmode"]);
const SSLMODES = new Set(["disable", "require", "verify-full"]);

/** True when `location` is a PostgreSQL URL rather than a folder. */
export function isPgUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/**
 * `url` with any password replaced by "***": the one in the user-info part and a `password=` query
 * parameter. Works on malformed URLs too (it is what error messages print).
 */
export function redactUrl(url: string): string {
  let out = url.replace(/([?&]password=)[^&#]*/gi, "$1***");
  const scheme = out.indexOf("://");
  if (scheme < 0) return out;
  const q = out.indexOf("?", scheme);
  const authorityEnd = q < 0 ? out.length : q;
  // The last "@" before the query ends the user info, even when an unencoded "/" or "@" sits in the password.
  const at = out.lastIndexOf("@", authorityEnd);
  if (at > scheme) {
    const colon = out.indexOf(":", scheme + 3);
    if (colon >= 0 && colon < at) out = `${out.slice(0, colon + 1)}***${out.slice(at)}`;
  }
  return out;
}

function invalid(url: string, why: string): ColtsError {
  return new ColtsError("INPUT_INVALID", `invalid PostgreSQL location ${redactUrl(url)}: ${why}`, { details: { location: redactUrl(url) } });
}

function decode(url: string, part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(url, `the ${what} is not valid percent-encoding`);
  }
}

/** An integer query parameter within [min, max], or `fallback` when absent. */
function intParam(url: string, params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw invalid(url, `${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Parses a location (INPUT_INVALID, password redacted, for anything malformed). `env` supplies PGPASSWORD and PGUSER. */
export function parsePgUrl(url: string, env: NodeJS.ProcessEnv = process.env): PgLocation {
  if (!isPgUrl(url)) throw invalid(url, 'expected "postgres://user@host:port/database?prefix=..."');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(url, "not a URL (percent-encode special characters in the password, e.g. / as %2F)");
  }
  for (const key of u.searchParams.keys()) {
    if (key === "password") throw invalid(url, "give the password in the user part or in PGPASSWORD, not as a query parameter");
    if (!PARAMS.has(key)) throw invalid(url, `unknown parameter ${JSON.stringify(key)} (known: ${[...PARAMS].join(", ")})`);
  }
  const prefix = u.searchParams.get("prefix") ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw invalid(url, `prefix ${JSON.stringify(prefix)} must match ${PREFIX_PATTERN.source}`);
  const sslmode = u.searchParams.get("sslmode") ?? "disable";
  if (!SSLMODES.has(sslmode)) throw invalid(url, `sslmode must be one of ${[...SSLMODES].join(", ")}`);
  const rawHost = decode(url, u.hostname, "host");
  const host = rawHost.startsWith("[") && rawHost.endsWith("]") ? rawHost.slice(1, -1) : rawHost || "localhost";
  const port = u.port === "" ? 5432 : Number(u.port);
  if (!(port >= 1 && port <= 65535)) throw invalid(url, `port must be in 1..65535`);
  const user = u.username ? decode(url, u.username, "user") : (env["PGUSER"] ?? os.userInfo().username);
  const path = decode(url, u.pathname.replace(/^\//, ""), "database");
  if (path.includes("/")) throw invalid(url, "the path must be just the database name");
  const password = u.password ? decode(url, u.password, "password") : env["PGPASSWORD"];
  return {
    host,
    port,
    database: path || user,
    user,
    password: password === "" ? undefined : password,
    prefix,
    connectTimeoutMs: intParam(url, u.searchParams, "connect_timeout", 10, 1, 3600) * 1000,
    statementTimeoutMs: intParam(url, u.searchParams, "statement_timeout", 0, 0, 86_400_000),
    sslmode: sslmode as PgLocation["sslmode"],
    redacted: redactUrl(url),
  };
}
