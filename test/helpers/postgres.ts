/**
 * A throwaway PostgreSQL server for tests of the PostgreSQL index location: initdb in a temp folder,
 * a free loopback port, its Unix socket in the same folder, password authentication, the vector
 * extension created; stopped and removed by `stop` (call it from `after`).
 *
 * Without PostgreSQL's server binaries (scripts/install-postgres.sh installs them; COLTS_PG_BIN names
 * another folder) `startPostgres` throws, so the tests that need it fail with that message: in CI and
 * everywhere else alike, as no test is skipped.
 * initdb refuses to run as root; as root the server runs as the `postgres` system user (Debian's
 * postgresql-common creates it) and the temp folder is handed to that user.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

/** A running test server. */
export interface TestPostgres {
  /** Location URL of an index under `prefix` in the server's "colts" database (password included). */
  url(prefix?: string): string;
  /** Plain connection settings (for tests that talk SQL themselves). */
  config: pg.ClientConfig;
  /** The server's temp folder (data, socket, log). */
  folder: string;
  /** Stops the server and removes its folder. Idempotent. */
  stop(): void;
  /** Stops the server and keeps its folder (`resume` starts it again on the same port). */
  halt(): void;
  /** Starts a halted server again. */
  resume(): void;
  /** SIGSTOPs the server and every process it forked: it accepts TCP connections but never answers. */
  freeze(): void;
  /** SIGCONTs a frozen server. */
  thaw(): void;
}

/** Options of `startPostgres`. */
export interface StartOptions {
  /** The role's password. Default: a random one. Shards of one sharded index share their coordinator's. */
  password?: string;
}

/** The folder of initdb / pg_ctl, or an Error saying how to get them. */
export function postgresBinDir(): string {
  const fromEnv = process.env["COLTS_PG_BIN"];
  const candidates = fromEnv
    ? [fromEnv]
    : fs.existsSync("/usr/lib/postgresql")
      ? fs
          .readdirSync("/usr/lib/postgresql")
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => `/usr/lib/postgresql/${v}/bin`)
      : [];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, "initdb")) && fs.existsSync(path.join(d, "pg_ctl")));
  if (!dir) {
    throw new Error(
      `PostgreSQL server binaries not found (${fromEnv ? `COLTS_PG_BIN=${fromEnv}` : "looked in /usr/lib/postgresql/*/bin"}): ` +
        "run scripts/install-postgres.sh as root (Debian 12), or set COLTS_PG_BIN. The PostgreSQL index tests need a server.",
    );
  }
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Sends `signal` to the postmaster of `data` and to every process it forked (backends, workers). */
function signalServer(data: string, signal: NodeJS.Signals): void {
  const pid = Number(fs.readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
    .split("\n")
    .map((x) => Number(x.trim()))
    .filter((x) => x > 0);
  // The postmaster first, so it forks no new backend while its children are being stopped.
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, signal);
    } catch {
      // a backend that ended meanwhile
    }
  }
}

/** Starts a server (about 2 s: initdb without fsync, then pg_ctl start). */
export async function startPostgres(opts: StartOptions = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const root = os.userInfo().uid === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-pg-"));
  const data = path.join(dir, "data");
  const run = (cmd: string, args: string[]): string =>
    execFileSync(root ? "runuser" : path.join(bin, cmd), root ? ["-u", "postgres", "--", path.join(bin, cmd), ...args] : args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
    fs.chownSync(dir, uid, gid);
  }
  const password = opts.password ?? crypto.randomBytes(12).toString("hex");
  const pwfile = path.join(dir, "pw");
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o644 });
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      if (fs.existsSync(path.join(data, "postmaster.pid"))) run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  let settings = "";
  const start = (): void => void run("pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-w", "-o", settings, "start"]);
  try {
    run("initdb", ["-D", data, "-U", "colts", `--pwfile=${pwfile}`, "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]);
    const port = await freePort();
    settings = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c full_page_writes=off -c synchronous_commit=off`;
    start();
    const config: pg.ClientConfig = { host: "127.0.0.1", port, user: "colts", password, database: "postgres" };
    const admin = new pg.Client(config);
    await admin.connect();
    try {
      await admin.query("CREATE DATABASE colts");
    } finally {
      await admin.end();
    }
    const colts = new pg.Client({ ...config, database: "colts" });
    await colts.connect();
    try {
      await colts.query("CREATE EXTENSION vector");
    } finally {
      await colts.end();
    }
    return {
      url: (prefix = "colts_") => `postgres://colts:${password}@127.0.0.1:${port}/colts?prefix=${prefix}`,
      config: { ...config, database: "colts" },
      folder: dir,
      stop,
      halt: () => void run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]),
      resume: start,
      freeze: () => signalServer(data, "SIGSTOP"),
      thaw: () => signalServer(data, "SIGCONT"),
    };
  } catch (e) {
    const log = path.join(dir, "server.log");
    const tail = fs.existsSync(log) ? `\nserver log:\n${fs.readFileSync(log, "utf8").slice(-2000)}` : "";
    const stderr = (e as { stderr?: string }).stderr ?? "";
    stop();
    throw new Error(`could not start a test PostgreSQL server: ${(e as Error).message}${stderr}${tail}`, { cause: e });
  }
}

/** Ids of the documents stored on `server` under `prefix` (a shard's own rows, read directly). */
export async function storedIds(server: TestPostgres, prefix: string): Promise<string[]> {
  const c = new pg.Client(server.config);
  await c.connect();
  try {
    return (await c.query<{ id: string }>(`SELECT id FROM "${prefix}documents"`)).rows.map((r) => r.id);
  } finally {
    await c.end();
  }
}
