/**
 * Server settings a large PostgreSQL build needs, set by the benchmark on its own throwaway server.
 * pgvector builds an HNSW index in memory while the graph fits in maintenance_work_mem and much more
 * slowly on disk past it (it logs "hnsw graph no longer fits into maintenance_work_mem"); at 100,000
 * documents x 3,840-value halfvec FDEs the graph needs about 1-2 GB, PostgreSQL's default is 64 MB.
 */
import pg from "pg";
import { parsePgUrl, redactUrl } from "../../src/pg/url.js";

/** A plain client on the location's server (not through the index code: these are server settings). */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const loc = parsePgUrl(url);
  const c = new pg.Client({ host: loc.host, port: loc.port, database: loc.database, user: loc.user, password: loc.password });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The server's current value of a setting, as SHOW prints it (a fresh session: what a new connection gets). */
export function showSetting(url: string, name: string): Promise<string> {
  return withClient(url, async (c) => (await c.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name] ?? "?");
}

/**
 * `ALTER SYSTEM SET maintenance_work_mem` and a configuration reload, so that the build's own
 * connection (opened after) gets it. Needs a superuser (scripts/pg-local.sh's user is one). value:
 * a PostgreSQL memory size such as "2GB". Returns a line for the log, before -> after.
 */
export async function raiseMaintenanceWorkMem(url: string, value: string): Promise<string> {
  if (!/^\d+\s*(kB|MB|GB)$/.test(value)) throw new Error(`--maintenance-work-mem must look like 2GB or 512MB, got ${value}`);
  const before = await showSetting(url, "maintenance_work_mem");
  await withClient(url, async (c) => {
    await c.query(`ALTER SYSTEM SET maintenance_work_mem = '${value}'`);
    await c.query("SELECT pg_reload_conf()");
  });
  const after = await showSetting(url, "maintenance_work_mem");
  return `${redactUrl(url)}: ALTER SYSTEM SET maintenance_work_mem = '${value}' (was ${before}, now ${after}; max_parallel_maintenance_workers ${await showSetting(url, "max_parallel_maintenance_workers")})`;
}
