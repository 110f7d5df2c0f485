/**
 * A killed `addToPgIndex` leaves the PostgreSQL index all-or-nothing: a child process appends
 * batches of 40 documents (each add one transaction of many small INSERTs) and is killed with SIGKILL
 * at seeded random moments; after each kill every add is either wholly there or wholly absent, every
 * document has its vectors row and its FDE, the settings row's counters match the rows, the write
 * lock is free once the server has ended the killed backend (the next add succeeds) and a search
 * still answers. The same on a sharded index (a coordinator and two shards): each shard holds all or
 * none of its part of every add (the documents `hashtext(id) & 1` routes to it), its documents and
 * vectors rows agree, no ordinal is on both shards, and the next add and a search go through.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { arraySource } from "../../src/plaid/source.js";
import { PgIndex } from "../../src/pg/pg-index.js";
import { addToPgIndex, buildPgIndex } from "../../src/pg/writer.js";
import { Rng } from "../../src/util/rng.js";
import { CRASH_BATCH, CRASH_DIM } from "../helpers/pg-crash-writer.js";
import { assertIvfMatchesCodes } from "../helpers/pg-ivf.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { syntheticDocs } from "../helpers/synthetic.js";

const WRITER = fileURLToPath(new URL("../helpers/pg-crash-writer.js", import.meta.url));

/** Runs the writer and SIGKILLs it after `ms`; resolves with how it ended. */
function runKilled(url: string, seed: number, ms: number): Promise<"killed" | "finished"> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, url, String(seed)], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve("killed");
      else if (code === 0) resolve("finished");
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

/**
 * Waits until no backend holds an advisory lock: a killed client's backend ends (and its write lock
 * with it) only when the server notices the closed socket, which under load takes a moment.
 */
async function waitForDeadWriters(client: pg.Client): Promise<void> {
  for (let waited = 0; ; waited += 50) {
    const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted");
    if (r.rows[0]?.n === "0") return;
    if (waited > 15_000) throw new Error("a killed writer's backend still holds the write lock after 15 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The write lock died with the killed connection: the next add goes through, and search finds what it added. */
async function assertWritableAndSearchable(url: string): Promise<void> {
  const extra = syntheticDocs(5, CRASH_DIM, 99, "after-").map((d) => ({ ...d, text: `text of ${d.id}` }));
  await addToPgIndex(url, arraySource(extra, 5));
  const index = await PgIndex.open(url);
  try {
    const q = extra[0];
    assert.ok(q);
    const hits = await index.search({ vectors: q.vectors, tokens: q.vectors.length / CRASH_DIM, dim: CRASH_DIM }, { k: 3, retriever: "exact" });
    assert.equal(hits[0]?.id, q.id);
  } finally {
    await index.close();
  }
}

describe("PostgreSQL index: SIGKILL during index add", () => {
  let server: TestPostgres;
  let client: pg.Client;
  before(async () => {
    server = await startPostgres();
    client = new pg.Client(server.config);
    await client.connect();
  });
  after(async () => {
    await client?.end();
    server?.stop();
  });

  test("every add is all or nothing, rows and counters agree, and the index stays writable and searchable", async (t) => {
    const url = server.url("crash_");
    const base = syntheticDocs(60, CRASH_DIM, 7, "base-").map((d) => ({ ...d, text: `text of ${d.id}` }));
    await buildPgIndex(url, arraySource(base, 20), CRASH_DIM, { numCentroids: 16, fde: true });
    const rng = new Rng(2024);
    const outcomes: string[] = [];
    for (let trial = 1; trial <= 6; trial++) {
      const ms = 300 + Math.floor(rng.next() * 2500);
      outcomes.push(`${ms} ms: ${await runKilled(url, trial, ms)}`);
      await waitForDeadWriters(client);
      // Documents by add: the writer's ids are s<trial>r<round>-<i>; each round must be whole or absent.
      const rounds = await client.query<{ round: string; n: string }>(
        `SELECT split_part(id, '-', 1) AS round, count(*) AS n FROM "crash_documents" WHERE id LIKE $1 GROUP BY 1`,
        [`s${trial}r%`],
      );
      for (const r of rounds.rows) assert.equal(Number(r.n), CRASH_BATCH, `trial ${trial}: add ${r.round} is partial (${r.n} of ${CRASH_BATCH} documents)`);
      const orphans = await client.query<{ docs_without_vectors: string; vectors_without_docs: string; without_fde: string }>(
        `SELECT (SELECT count(*) FROM "crash_documents" d WHERE NOT EXISTS (SELECT 1 FROM "crash_vectors" v WHERE v.ordinal = d.ordinal)) AS docs_without_vectors,
                (SELECT count(*) FROM "crash_vectors" v WHERE NOT EXISTS (SELECT 1 FROM "crash_documents" d WHERE d.ordinal = v.ordinal)) AS vectors_without_docs,
                (SELECT count(*) FROM "crash_documents" WHERE fde IS NULL) AS without_fde`,
      );
      assert.deepEqual(orphans.rows[0], { docs_without_vectors: "0", vectors_without_docs: "0", without_fde: "0" }, `trial ${trial}`);
      const counters = await client.query<{ next: string; max: string }>(`SELECT s.next_ordinal AS next, (SELECT max(ordinal) FROM "crash_documents") AS max FROM "crash_settings" s`);
      await assertIvfMatchesCodes(client, "crash_", `trial ${trial}`);
      assert.ok(Number(counters.rows[0]?.next) > Number(counters.rows[0]?.max), `trial ${trial}: next ordinal ${counters.rows[0]?.next} <= max ordinal ${counters.rows[0]?.max}`);
    }
    t.diagnostic(`trials: ${outcomes.join("; ")}`);
    assert.ok(outcomes.some((o) => o.endsWith("killed")), `no trial was killed mid-way: ${outcomes.join("; ")}`);
    await assertWritableAndSearchable(url);
  });
});

describe("sharded PostgreSQL index: SIGKILL during index add", () => {
  const password = "kill-shards-pw";
  let coordinator: TestPostgres;
  let shards: TestPostgres[] = [];
  let clients: pg.Client[] = [];
  before(async () => {
    [coordinator, ...shards] = await Promise.all([startPostgres({ password }), startPostgres({ password }), startPostgres({ password })]);
    clients = [coordinator, ...shards].map((s) => new pg.Client(s.config));
    await Promise.all(clients.map((c) => c.connect()));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.end()));
    for (const s of [coordinator, ...shards]) s?.stop();
  });

  test("each shard holds all or none of its part of every add, rows agree, ordinals stay unique, and the index stays writable and searchable", async (t) => {
    const url = coordinator.url("crash_");
    const base = syntheticDocs(60, CRASH_DIM, 7, "base-").map((d) => ({ ...d, text: `text of ${d.id}` }));
    await buildPgIndex(url, arraySource(base, 20), CRASH_DIM, { numCentroids: 16, shards: shards.map((s) => s.url("crash_")) });
    const [coord, ...onShards] = clients as [pg.Client, ...pg.Client[]];
    const rng = new Rng(4048);
    const outcomes: string[] = [];
    for (let trial = 1; trial <= 6; trial++) {
      const ms = 300 + Math.floor(rng.next() * 2500);
      outcomes.push(`${ms} ms: ${await runKilled(url, trial, ms)}`);
      for (const c of clients) await waitForDeadWriters(c);
      const ordinals: string[] = [];
      for (const [part, c] of onShards.entries()) {
        // Per add ("s<trial>r<round>"): this shard holds every document the add routed to it, or none.
        const rounds = await c.query<{ round: string; n: string; ids: string[] }>(
          `SELECT split_part(id, '-', 1) AS round, count(*) AS n, array_agg(id) AS ids FROM "crash_documents" WHERE id LIKE $1 GROUP BY 1`,
          [`s${trial}r%`],
        );
        for (const r of rounds.rows) {
          const all = Array.from({ length: CRASH_BATCH }, (_, i) => `${r.round}-${i}`);
          const mine = await coord.query<{ n: string }>("SELECT count(*) AS n FROM unnest($1::text[]) x WHERE (hashtext(x) & 1) = $2", [all, part]);
          assert.equal(r.n, mine.rows[0]?.n, `trial ${trial}, shard ${part}: add ${r.round} is partial (${r.n} of ${mine.rows[0]?.n} documents)`);
        }
        const orphans = await c.query<{ a: string; b: string }>(
          `SELECT (SELECT count(*) FROM "crash_documents" d WHERE NOT EXISTS (SELECT 1 FROM "crash_vectors" v WHERE v.ordinal = d.ordinal)) AS a,
                  (SELECT count(*) FROM "crash_vectors" v WHERE NOT EXISTS (SELECT 1 FROM "crash_documents" d WHERE d.ordinal = v.ordinal)) AS b`,
        );
        assert.deepEqual(orphans.rows[0], { a: "0", b: "0" }, `trial ${trial}, shard ${part}: documents and vectors rows agree`);
        await assertIvfMatchesCodes(c, "crash_", `trial ${trial}, shard ${part}`);
        ordinals.push(...(await c.query<{ o: string }>(`SELECT ordinal AS o FROM "crash_documents"`)).rows.map((r) => r.o));
      }
      assert.equal(new Set(ordinals).size, ordinals.length, `trial ${trial}: an ordinal is on both shards`);
    }
    t.diagnostic(`trials: ${outcomes.join("; ")}`);
    assert.ok(outcomes.some((o) => o.endsWith("killed")), `no trial was killed mid-way: ${outcomes.join("; ")}`);
    await assertWritableAndSearchable(url);
  });
});
