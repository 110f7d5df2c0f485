/**
 * A sharded PostgreSQL index: a coordinator and two shard servers (test/helpers/postgres.ts, one
 * role and password for all three, as PL/Proxy's user mapping needs). Checked: routing (each
 * document on exactly one shard, the one `hashtext(id) & 1` names), the same hits as one node holding
 * the same documents for every retriever, filters and id lists, after adds and deletes through the
 * coordinator URL alone; a stopped shard gives SHARD_UNAVAILABLE naming it within seconds, or with
 * allowPartial the other shard's hits marked partial.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import pg from "pg";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { PgTexts, readPgSummary } from "../../src/pg/documents.js";
import { PgIndex, type PgEncodedQuery, type PgSearchOptions } from "../../src/pg/pg-index.js";
import { addToPgIndex, buildPgIndex, deleteFromPgIndex } from "../../src/pg/writer.js";
import { isCode } from "../helpers/errors.js";
import { assertIvfMatchesCodes } from "../helpers/pg-ivf.js";
import { startPostgres, storedIds, type TestPostgres } from "../helpers/postgres.js";
import { syntheticDocs } from "../helpers/synthetic.js";

const DIM = 32;
const SMALL_FDE = { repetitions: 4, simhashBits: 3, projectionDim: 8 };
const WORDS = ["apple", "river", "stone", "cloud", "forest", "candle", "mirror", "garden", "window", "bridge"];

function docs(n: number, seed: number, prefix: string): EmbeddedDoc[] {
  return syntheticDocs(n, DIM, seed, prefix).map((d, i) => ({
    ...d,
    metadata: { group: i % 3, tag: i % 5 === 0 ? "five" : "other" },
    text: `${WORDS[i % 10]} ${WORDS[(i * 7 + 3) % 10]} ${WORDS[(i * 3 + 1) % 10]}`,
  }));
}

function asQuery(doc: EmbeddedDoc, text: string): PgEncodedQuery {
  return { vectors: doc.vectors, tokens: Math.min(doc.n, 8), dim: DIM, text };
}

/** The option sets every comparison runs: each retriever, with and without a filter and an id list. */
const OPTION_SETS: PgSearchOptions[] = [
  { retriever: "plaid" },
  { retriever: "plaid", filter: "group = 1" },
  { retriever: "plaid", ids: ["c3", "c10", "c11", "c77", "c4", "c40", "c91", "nope"] },
  { retriever: "plaid", plaid: { ncells: 3, centroidScoreThreshold: 0.2, ndocs: 40 } },
  { retriever: "fde" },
  { retriever: "fde", filter: "group = 1" },
  { retriever: "exact" },
  { retriever: "exact", filter: "tag IN ('five') OR group = 2", batchDocs: 7 },
  { retriever: "exact", ids: ["c3", "c10", "c11", "c77", "nope"] },
  { retriever: "keyword" },
  { retriever: "keyword", filter: "group != 0" },
  { retriever: "hybrid" },
  { retriever: "hybrid", filter: "tag = 'other'" },
];

describe("sharded PostgreSQL index: coordinator + 2 shards over PL/Proxy", () => {
  const password = crypto.randomBytes(12).toString("hex");
  let coordinator: TestPostgres;
  let shards: TestPostgres[] = [];
  let sql: pg.Client;
  const prefix = "sh_";
  const one = "one_";
  const url = (): string => coordinator.url(prefix);
  const shardUrls = (): string[] => shards.map((s) => s.url(prefix));

  before(async () => {
    [coordinator, ...shards] = await Promise.all([startPostgres({ password }), startPostgres({ password }), startPostgres({ password })]);
    // The tables are small: without this the planner scans them instead of using the HNSW index under test.
    for (const s of [coordinator, ...shards]) {
      const c = new pg.Client(s.config);
      await c.connect();
      await c.query("ALTER DATABASE colts SET enable_seqscan = off");
      await c.end();
    }
    sql = new pg.Client(coordinator.config);
    await sql.connect();
  });
  after(async () => {
    await sql?.end();
    for (const s of [coordinator, ...shards]) s?.stop();
  });

  /** Ids on each shard. */
  async function idsByShard(): Promise<string[][]> {
    return Promise.all(
      shards.map(async (s) => {
        const c = new pg.Client(s.config);
        await c.connect();
        try {
          return (await c.query<{ id: string }>(`SELECT id FROM "${prefix}documents" ORDER BY id`)).rows.map((r) => r.id);
        } finally {
          await c.end();
        }
      }),
    );
  }

  /** Every option set's hits on the sharded index equal the single node's, for a few queries. */
  async function assertSameHits(corpus: EmbeddedDoc[]): Promise<void> {
    const sharded = await PgIndex.open(url());
    const single = await PgIndex.open(coordinator.url(one));
    try {
      for (const [i, qdoc] of [corpus[4], corpus[40], corpus[91]].entries()) {
        const q = asQuery(qdoc as EmbeddedDoc, `${WORDS[i]} OR ${WORDS[i + 4]}`);
        for (const opts of OPTION_SETS) {
          const want = await single.search(q, { k: 12, ...opts });
          const got = await sharded.search(q, { k: 12, ...opts });
          assert.ok(want.length > 0, `query ${i} ${JSON.stringify(opts)}: the single node found nothing, the comparison would be empty`);
          assert.deepEqual([...got], [...want], `query ${i} ${JSON.stringify(opts)}`);
          assert.equal(got.partial, undefined);
        }
      }
    } finally {
      await Promise.all([sharded.close(), single.close()]);
    }
  }

  test("build spreads documents by hashtext(id) & 1: each on exactly one shard, every search equals one node's", async () => {
    const corpus = docs(120, 5, "c");
    await buildPgIndex(url(), arraySource(corpus, 50), DIM, { nbits: 2, fde: SMALL_FDE, shards: shardUrls(), insertDocs: 16 });
    await buildPgIndex(coordinator.url(one), arraySource(corpus, 50), DIM, { nbits: 2, fde: SMALL_FDE, insertDocs: 16 });
    const placed = await idsByShard();
    assert.ok(placed.every((ids) => ids.length > 20), `both shards hold documents: ${placed.map((p) => p.length).join(", ")}`);
    assert.deepEqual([...placed.flat()].sort(), corpus.map((d) => d.id).sort(), "every document on exactly one shard");
    const routes = await sql.query<{ id: string; part: number }>("SELECT x AS id, (hashtext(x) & 1) AS part FROM unnest($1::text[]) x", [corpus.map((d) => d.id)]);
    for (const r of routes.rows) assert.ok(placed[r.part]?.includes(r.id), `${r.id} belongs on shard ${r.part}`);
    for (const [part, s] of shards.entries()) {
      const c = new pg.Client(s.config);
      await c.connect();
      const recorded = await c.query<{ shard: number }>(`SELECT DISTINCT shard FROM "${prefix}documents"`);
      await assertIvfMatchesCodes(c, prefix, `shard ${part}`);
      await c.end();
      assert.deepEqual(recorded.rows, [{ shard: part }], `shard ${part}'s rows record their part`);
    }
    await assertSameHits(corpus);
    const db = await PgIndex.open(url());
    try {
      const info = await db.info();
      assert.equal(info.liveDocuments, 120);
      assert.equal(info.schemaVersion, 5);
      assert.ok(info.tableBytes.ivf > 0, "the shards' IVF lists are measured");
      assert.deepEqual(
        info.shards?.map((s) => s.documents),
        placed.map((p) => p.length),
      );
      assert.ok(info.bytesPerVector > 0);
    } finally {
      await db.close();
    }
  });

  test("add and delete name only the coordinator; the hits still equal one node's after the same writes", async () => {
    const corpus = docs(120, 5, "c");
    const more = docs(40, 9, "m");
    for (const u of [url(), coordinator.url(one)]) {
      const added = await addToPgIndex(u, arraySource(more, 15), { insertDocs: 7 });
      assert.deepEqual(added, { generation: 2, liveDocuments: 160, written: 40 });
      const removed = await deleteFromPgIndex(u, ["c3", "m5", "c40", "absent"]);
      assert.deepEqual(removed, { deleted: ["c3", "m5", "c40"], missing: ["absent"] });
    }
    await assert.rejects(addToPgIndex(url(), arraySource([more[0] as EmbeddedDoc])), isCode("INPUT_INVALID", /m0.*already in the index/));
    const live = [...corpus, ...more].filter((d) => !["c3", "m5", "c40"].includes(d.id));
    assert.deepEqual((await idsByShard()).flat().sort(), live.map((d) => d.id).sort());
    await assertSameHits(live);
    const summary = await readPgSummary(url());
    assert.equal(summary.liveDocuments, 157);
    assert.equal(summary.generation, 3);
    assert.equal(summary.hasText, true);
    const texts = await PgTexts.open(url());
    try {
      const db = await PgIndex.open(url());
      const hit = (await db.search(asQuery(more[7] as EmbeddedDoc, ""), { retriever: "exact", k: 1 }))[0];
      await db.close();
      assert.equal(hit?.id, "m7");
      assert.deepEqual(await texts.texts([hit.ordinal, 999_999]), [more[7]?.text, null]);
    } finally {
      await texts.close();
    }
  });

  test("a shard opened directly is refused: its coordinator is what to name", async () => {
    await assert.rejects(PgIndex.open(shards[0]?.url(prefix) as string), isCode("INDEX_CORRUPT", /one shard of a sharded index/));
  });

  test("a stopped shard: SHARD_UNAVAILABLE naming it within seconds, partial hits only when allowed, and back when it returns", async () => {
    const corpus = docs(120, 5, "c");
    const down = shards[1] as TestPostgres;
    const port = (down.config.port as number).toString();
    const db = await PgIndex.open(url());
    try {
      down.halt();
      const q = asQuery(corpus[4] as EmbeddedDoc, "apple");
      for (const retriever of ["plaid", "fde", "exact", "keyword"] as const) {
        const started = Date.now();
        await assert.rejects(db.search(q, { retriever }), isCode("SHARD_UNAVAILABLE", new RegExp(`shard 1 \\(127\\.0\\.0\\.1:${port}/colts\\)`)));
        assert.ok(Date.now() - started < 10_000, `${retriever}: answered in ${Date.now() - started} ms`);
      }
      const partial = await db.search(q, { retriever: "exact", k: 50, allowPartial: true });
      assert.deepEqual(partial.partial?.missingShards, [`shard 1 (127.0.0.1:${port}/colts)`]);
      const onShard0 = new Set((await storedIds(shards[0] as TestPostgres, prefix)).values());
      assert.ok(partial.length > 0 && partial.every((h) => onShard0.has(h.id)), "partial hits come from the shard that answered");
      await assert.rejects(addToPgIndex(url(), arraySource(docs(3, 11, "x"))), isCode("SHARD_UNAVAILABLE", new RegExp(port)));
      down.resume();
      const back = await db.search(q, { retriever: "exact", k: 5 });
      assert.equal(back.partial, undefined);
      assert.equal(back.length, 5);
    } finally {
      await db.close();
    }
  });

  test("a frozen shard (its processes stopped): SHARD_UNAVAILABLE naming it by the client's deadline, never a hang, and back when it thaws", async () => {
    const corpus = docs(120, 5, "c");
    const frozen = shards[0] as TestPostgres;
    const port = (frozen.config.port as number).toString();
    // statement_timeout 1500 ms: the client gives up 2 s later, then pings each shard for 2 s.
    const db = await PgIndex.open(`${url()}&statement_timeout=1500`);
    const q = asQuery(corpus[4] as EmbeddedDoc, "apple");
    try {
      assert.equal((await db.search(q, { retriever: "exact", k: 5 })).length, 5);
      frozen.freeze();
      try {
        for (const retriever of ["fde", "keyword"] as const) {
          const started = Date.now();
          await assert.rejects(db.search(q, { retriever }), isCode("SHARD_UNAVAILABLE", new RegExp(`shard 0 \\(127\\.0\\.0\\.1:${port}/colts\\)`)));
          assert.ok(Date.now() - started < 10_000, `${retriever}: answered in ${Date.now() - started} ms`);
        }
        const partial = await db.search(q, { retriever: "exact", k: 50, allowPartial: true });
        assert.deepEqual(partial.partial?.missingShards, [`shard 0 (127.0.0.1:${port}/colts)`]);
        const onShard1 = new Set(await storedIds(shards[1] as TestPostgres, prefix));
        assert.ok(partial.length > 0 && partial.every((h) => onShard1.has(h.id)), "partial hits come from the shard that answered");
      } finally {
        frozen.thaw();
      }
      const back = await db.search(q, { retriever: "exact", k: 5 });
      assert.equal(back.partial, undefined);
      assert.equal(back.length, 5);
    } finally {
      await db.close();
    }
  });
});

