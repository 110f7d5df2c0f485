/**
 * In-place upgrade of PostgreSQL indexes written by an older colts (src/pg/upgrade.ts): schema 2 (one
 * node) to 4 and schema 3 (coordinator + 2 shards) to 5. An older index is made here from a current
 * one by undoing exactly what the newer schema added (the ivf table, settings.fde_enabled, the NULL
 * FDEs, the f_ivf / f_admit functions), which is the shape the older colts wrote. Checked: open and
 * writes refuse the old index naming the upgrade; after it, the IVF lists are byte for byte the ones
 * the build wrote, every retriever returns what it returned before, writes work; two at once
 * upgrade once; a second run does nothing; an upgrade interrupted between the shards' and the coordinator's commits is finished by
 * running it again; version 1, newer versions, a shard's URL and a folder are refused.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import path from "node:path";
import pg from "pg";
import { ColtsError } from "../../src/errors.js";
import { upgradeAt } from "../../src/location/write.js";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { PgIndex, type PgEncodedQuery, type PgSearchOptions } from "../../src/pg/pg-index.js";
import { upgradePgIndex } from "../../src/pg/upgrade.js";
import { addToPgIndex, buildPgIndex, deleteFromPgIndex } from "../../src/pg/writer.js";
import { runCli } from "../helpers/cli.js";
import { isCode } from "../helpers/errors.js";
import { suiteDir } from "../helpers/paths.js";
import { assertIvfMatchesCodes } from "../helpers/pg-ivf.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { syntheticDocs } from "../helpers/synthetic.js";

const DIM = 32;
const SMALL_FDE = { repetitions: 4, simhashBits: 3, projectionDim: 8 };
const WORDS = ["apple", "river", "stone", "cloud", "forest", "candle", "mirror", "garden"];

function docs(n: number, seed: number, prefix: string): EmbeddedDoc[] {
  return syntheticDocs(n, DIM, seed, prefix).map((d, i) => ({ ...d, metadata: { group: i % 3 }, text: `${WORDS[i % 8]} ${WORDS[(i * 5 + 1) % 8]}` }));
}

const OPTION_SETS: PgSearchOptions[] = [
  { retriever: "plaid" },
  { retriever: "plaid", filter: "group = 1" },
  { retriever: "plaid", plaid: { ncells: 2, centroidScoreThreshold: 0.3, ndocs: 30 } },
  { retriever: "fde" },
  { retriever: "exact" },
  { retriever: "hybrid" },
];

/** Runs `fn` with a plain client on `server`'s colts database. */
async function onServer<T>(server: TestPostgres, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(server.config);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** centroid -> the IVF list's bytes as hex. */
async function ivfRows(c: pg.Client, prefix: string): Promise<Map<number, string>> {
  const r = await c.query<{ centroid: number; ordinals: Buffer }>(`SELECT centroid, ordinals FROM "${prefix}ivf" ORDER BY centroid`);
  return new Map(r.rows.map((row) => [row.centroid, row.ordinals.toString("hex")]));
}

async function schemaVersion(c: pg.Client, prefix: string): Promise<number> {
  return (await c.query<{ version: number }>(`SELECT version FROM "${prefix}schema"`)).rows[0]?.version ?? -1;
}

/** The documents side of an older schema: no ivf table, FDEs NOT NULL. */
async function oldDocuments(c: pg.Client, p: string): Promise<void> {
  await c.query(`DROP TABLE "${p}ivf"`);
  await c.query(`ALTER TABLE "${p}documents" ALTER COLUMN fde SET NOT NULL`);
}

/** The settings side of an older schema: no fde_enabled. */
async function oldSettings(c: pg.Client, p: string, version: number): Promise<void> {
  await c.query(`ALTER TABLE "${p}settings" DROP COLUMN fde_enabled`);
  await c.query(`UPDATE "${p}schema" SET version = $1`, [version]);
}

/** The functions schema 3 did not have, on a shard or (with their `_on` variants) on the coordinator. */
async function dropNewFunctions(c: pg.Client, p: string, coordinator: boolean): Promise<void> {
  await c.query(`DROP FUNCTION "${p}f_ivf"(integer[])`);
  await c.query(`DROP FUNCTION "${p}f_admit"(bigint[], text, jsonb)`);
  if (coordinator) {
    await c.query(`DROP FUNCTION "${p}f_ivf_on"(integer, integer[])`);
    await c.query(`DROP FUNCTION "${p}f_admit_on"(integer, bigint[], text, jsonb)`);
  }
}

/** Every option set's hits for a few queries. */
async function allHits(url: string, corpus: EmbeddedDoc[]): Promise<string> {
  const db = await PgIndex.open(url);
  try {
    const out: unknown[] = [];
    for (const [i, d] of [corpus[3], corpus[33], corpus[70]].entries()) {
      const q: PgEncodedQuery = { vectors: (d as EmbeddedDoc).vectors, tokens: Math.min((d as EmbeddedDoc).n, 8), dim: DIM, text: `${WORDS[i]} OR ${WORDS[i + 3]}` };
      for (const opts of OPTION_SETS) out.push(await db.search(q, { k: 8, ...opts }));
    }
    return JSON.stringify(out);
  } finally {
    await db.close();
  }
}

describe("upgrading a PostgreSQL index in place", () => {
  const password = crypto.randomBytes(12).toString("hex");
  let coordinator: TestPostgres;
  let shards: TestPostgres[] = [];
  before(async () => {
    [coordinator, ...shards] = await Promise.all([startPostgres({ password }), startPostgres({ password }), startPostgres({ password })]);
  });
  after(() => {
    for (const s of [coordinator, ...shards]) s?.stop();
  });

  test("schema 2 -> 4: open and add refuse it naming the upgrade; after it, the build's own IVF lists, the same hits, writes work; a second run does nothing", async () => {
    const p = "one_";
    const url = coordinator.url(p);
    const corpus = docs(90, 7, "d");
    await buildPgIndex(url, arraySource(corpus, 40), DIM, { nbits: 2, numCentroids: 16, fde: SMALL_FDE, insertDocs: 25 });
    const before = await allHits(url, corpus);
    const lists = await onServer(coordinator, (c) => ivfRows(c, p));
    assert.ok(lists.size > 4, "the build wrote lists");
    await onServer(coordinator, async (c) => {
      await oldDocuments(c, p);
      await oldSettings(c, p, 2);
    });
    await assert.rejects(PgIndex.open(url), isCode("INDEX_VERSION", /schema version 2.*colts index upgrade/));
    await assert.rejects(addToPgIndex(url, arraySource(docs(2, 8, "x"))), isCode("INDEX_VERSION", /colts index upgrade/));

    // Two at once: one upgrades; the other finds the lock taken (INDEX_BUSY) or, after its commit, nothing to do.
    const both = await Promise.allSettled([upgradePgIndex(url), upgradePgIndex(url)]);
    const done = both.filter((r) => r.status === "fulfilled").map((r) => r.value);
    assert.deepEqual(done.filter((r) => r.from === 2), [{ from: 2, to: 4, documents: 90 }], JSON.stringify(both));
    for (const r of both) {
      if (r.status === "rejected") assert.ok(r.reason instanceof ColtsError && r.reason.code === "INDEX_BUSY", String(r.reason));
      else if (r.value.from !== 2) assert.deepEqual(r.value, { from: 4, to: 4, documents: 0 });
    }
    await onServer(coordinator, async (c) => {
      assert.equal(await schemaVersion(c, p), 4);
      assert.deepEqual(await ivfRows(c, p), lists, "the lists made from the codes are the build's, byte for byte");
      const nullable = await c.query<{ attnotnull: boolean }>("SELECT attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'fde'", [`"${p}documents"`]);
      assert.equal(nullable.rows[0]?.attnotnull, false);
    });
    assert.equal(await allHits(url, corpus), before);
    const db = await PgIndex.open(url);
    assert.equal((await db.info()).fdeEnabled, true, "every schema-2 document has its FDE");
    await db.close();

    await addToPgIndex(url, arraySource(docs(10, 9, "n")));
    await deleteFromPgIndex(url, ["d1", "d2", "n3"]);
    await onServer(coordinator, (c) => assertIvfMatchesCodes(c, p, "after add and delete"));
    assert.deepEqual(await upgradePgIndex(url), { from: 4, to: 4, documents: 0 });
  });

  test("schema 3 -> 5 (coordinator + 2 shards): each shard's lists and functions, the same hits; an upgrade stopped between the commits is finished by a second run", async () => {
    const p = "sh_";
    const url = coordinator.url(p);
    const corpus = docs(100, 11, "s");
    await buildPgIndex(url, arraySource(corpus, 40), DIM, { nbits: 2, numCentroids: 16, fde: SMALL_FDE, insertDocs: 25, shards: shards.map((s) => s.url(p)) });
    const before = await allHits(url, corpus);
    const lists = await Promise.all(shards.map((s) => onServer(s, (c) => ivfRows(c, p))));
    const downgrade = async (): Promise<void> => {
      await onServer(coordinator, async (c) => {
        await oldSettings(c, p, 3);
        await dropNewFunctions(c, p, true);
      });
      for (const s of shards) {
        await onServer(s, async (c) => {
          await oldDocuments(c, p);
          await dropNewFunctions(c, p, false);
          await c.query(`UPDATE "${p}schema" SET version = 3`);
        });
      }
    };
    await downgrade();
    await assert.rejects(PgIndex.open(url), isCode("INDEX_VERSION", /schema version 3.*colts index upgrade/));

    // Small pages and appends: the lists are filled in several appends, in ordinal order.
    assert.deepEqual(await upgradePgIndex(url, { pageDocs: 7, appendVectors: 200 }), { from: 3, to: 5, documents: 100 });
    for (const [i, s] of shards.entries()) {
      await onServer(s, async (c) => {
        assert.equal(await schemaVersion(c, p), 5, `shard ${i}`);
        assert.deepEqual(await ivfRows(c, p), lists[i], `shard ${i}: the build's lists`);
      });
    }
    await onServer(coordinator, async (c) => assert.equal(await schemaVersion(c, p), 5));
    assert.equal(await allHits(url, corpus), before);

    // The shards committed, the coordinator did not (its part undone by hand): the next run finishes it.
    await onServer(coordinator, async (c) => {
      await oldSettings(c, p, 3);
      await dropNewFunctions(c, p, true);
    });
    assert.deepEqual(await upgradePgIndex(url), { from: 3, to: 5, documents: 0 });
    assert.equal(await allHits(url, corpus), before);
    await addToPgIndex(url, arraySource(docs(12, 12, "m")));
    await deleteFromPgIndex(url, ["s4", "m1"]);
    for (const [i, s] of shards.entries()) await onServer(s, (c) => assertIvfMatchesCodes(c, p, `shard ${i} after add and delete`));
  });

  test("refused: version 1, a newer version, a shard's URL, no index, a folder; the CLI upgrades and says what it did", async () => {
    const corpus = docs(30, 13, "r");
    const url = coordinator.url("r_");
    await buildPgIndex(url, arraySource(corpus), DIM, { numCentroids: 8 });
    await onServer(coordinator, (c) => c.query(`UPDATE "r_schema" SET version = 1`));
    await assert.rejects(upgradePgIndex(url), isCode("INDEX_VERSION", /schema version 1.*cannot be upgraded in place.*overwrite/));
    await onServer(coordinator, (c) => c.query(`UPDATE "r_schema" SET version = 9`));
    await assert.rejects(upgradePgIndex(url), isCode("INDEX_VERSION", /schema version 9.*upgrade colts/));
    await assert.rejects(upgradePgIndex(shards[0]?.url("sh_") ?? ""), isCode("INDEX_CORRUPT", /one shard of a sharded index: upgrade its coordinator/));
    await assert.rejects(upgradePgIndex(coordinator.url("none_")), isCode("INDEX_NOT_FOUND"));
    await assert.rejects(upgradePgIndex(url, { pageDocs: 0 }), isCode("INPUT_INVALID", /pageDocs/));
    const cwd = suiteDir();
    await assert.rejects(upgradeAt(path.join(cwd, "idx")), isCode("INPUT_INVALID", /is a folder: upgrade applies to PostgreSQL indexes/));

    const cli = coordinator.url("cli_");
    await buildPgIndex(cli, arraySource(corpus), DIM, { numCentroids: 8, fde: true });
    await onServer(coordinator, async (c) => {
      await oldDocuments(c, "cli_");
      await oldSettings(c, "cli_", 2);
    });
    const r = await runCli(["index", "upgrade", cli], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^postgres:\/\/colts:\*\*\*@127\.0\.0\.1:\d+\/colts\?prefix=cli_: upgraded from schema version 2 to 4 \(IVF lists made from the codes of 30 documents\)\n$/);
    assert.ok(!r.stdout.includes(password));
    const again = await runCli(["index", "upgrade", cli], cwd);
    assert.match(again.stdout, /already at schema version 4: nothing to do/);
    const json = await runCli(["index", "upgrade", cli, "--json"], cwd);
    assert.deepEqual(JSON.parse(json.stdout), { from: 4, to: 4, documents: 0 });
    const folder = await runCli(["index", "upgrade", "some-folder"], cwd);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, /upgrade applies to PostgreSQL indexes.*\[INPUT_INVALID\]/);
  });
});
