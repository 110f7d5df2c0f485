/**
 * The PostgreSQL index location against a throwaway server (test/helpers/postgres.ts): build, add,
 * delete and exact search give what a folder index gives on the same documents; refusals are coded
 * and carry no password; every write is one transaction.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { ColtsError } from "../../src/errors.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { addToIndex, buildIndex, deleteFromIndex } from "../../src/plaid/writer.js";
import { PgIndex } from "../../src/pg/pg-index.js";
import { addToPgIndex, buildPgIndex, deleteFromPgIndex } from "../../src/pg/writer.js";
import { formatFilter } from "../../src/metadata/filter.js";
import { Rng } from "../../src/util/rng.js";
import { randomFilter, randomMeta, SCALARS, withoutObjectComparisons } from "../helpers/filters.js";
import { isCode as isCodeMatching } from "../helpers/errors.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { suiteDir } from "../helpers/paths.js";
import { syntheticDocs } from "../helpers/synthetic.js";

const DIM = 32;

function asQuery(doc: EmbeddedDoc): { vectors: Float32Array; tokens: number; dim: number } {
  return { vectors: doc.vectors, tokens: Math.min(doc.n, 8), dim: DIM };
}

/** Documents with varied metadata for filters. */
function docs(n: number, seed: number, prefix: string): EmbeddedDoc[] {
  return syntheticDocs(n, DIM, seed, prefix).map((d, i) => ({ ...d, metadata: { group: i % 3, name: `doc ${i}`, lang: i % 2 ? "en" : "fr" }, text: `text of ${d.id}` }));
}

function isCode(code: string, secret?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof ColtsError, String(e));
    assert.equal(e.code, code, e.message);
    if (secret) assert.ok(!e.message.includes(secret) && !JSON.stringify(e.details ?? {}).includes(secret), e.message);
    return true;
  };
}

describe("PostgreSQL index location", () => {
  let server: TestPostgres;
  const root = suiteDir();
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());

  test("build + exact search equal a folder index's exact search (scores to the bit, order, metadata), with and without filter and ids", async () => {
    const corpus = docs(300, 7, "d");
    const dir = path.join(root, "same");
    await buildIndex(dir, arraySource(corpus, 64), DIM, { nbits: 2, chunkDocs: 120 });
    const url = server.url("same_");
    const built = await buildPgIndex(url, arraySource(corpus, 64), DIM, { nbits: 2, insertDocs: 70 });
    assert.deepEqual(built, { generation: 1, liveDocuments: 300, written: 300 });
    const disk = await PlaidIndex.open(dir);
    const db = await PgIndex.open(url);
    try {
      assert.deepEqual(db.codec.serialize(), disk.codec.serialize(), "same codec from the same training code");
      const cases = [{}, { filter: "group = 1 AND lang = 'en'" }, { ids: ["d3", "d10", "d11", "nope"] }, { filter: "name LIKE 'DOC 1%'", ids: ["d1", "d12", "d2"] }];
      for (const [qi, qdoc] of [corpus[5], corpus[77], corpus[150]].entries()) {
        for (const opts of cases) {
          const want = await disk.search(asQuery(qdoc as EmbeddedDoc), { k: 15, exact: true, ...opts });
          // Small batches: the merge across round trips must not change anything.
          const got = await db.search(asQuery(qdoc as EmbeddedDoc), { k: 15, exact: true, batchDocs: qi === 0 ? 1000 : 37, ...opts });
          assert.deepEqual(got, want, JSON.stringify(opts));
          // Equal empty lists would prove nothing: every case here has matches.
          assert.equal(want.length, "ids" in opts ? (opts.filter ? 2 : 3) : 15, JSON.stringify(opts));
        }
      }
      const info = await db.info();
      assert.equal(info.liveDocuments, 300);
      assert.equal(info.vectors, disk.info().vectors);
      console.log(
        `bytes per vector (dim ${DIM}, nbits 2, ${info.vectors} vectors): PostgreSQL vectors table ${info.bytesPerVector.toFixed(1)} ` +
          `(all tables ${(Object.values(info.tableBytes).reduce((a, b) => a + b, 0) / info.vectors).toFixed(1)}), folder chunks ${disk.info().bytesPerVector.toFixed(1)} ` +
          `(whole folder ${(disk.info().sizeOnDisk / info.vectors).toFixed(1)})`,
      );
    } finally {
      await Promise.all([disk.close(), db.close()]);
    }
  });

  test("filtered search equals the folder index's on 40 random filters over random metadata", async () => {
    const rng = new Rng(77);
    const corpus = syntheticDocs(150, DIM, 8, "f").map((d) => ({ ...d, metadata: randomMeta(rng, SCALARS) }));
    const dir = path.join(root, "filters");
    const url = server.url("filt_");
    await buildIndex(dir, arraySource(corpus), DIM, { nbits: 2 });
    await buildPgIndex(url, arraySource(corpus), DIM, { nbits: 2 });
    const disk = await PlaidIndex.open(dir);
    const db = await PgIndex.open(url);
    try {
      let some = 0;
      for (let i = 0; i < 40; i++) {
        const filter = formatFilter(withoutObjectComparisons(randomFilter(rng, 1)));
        const q = asQuery(corpus[i] as EmbeddedDoc);
        const want = await disk.search(q, { k: 20, exact: true, filter });
        assert.deepEqual(await db.search(q, { k: 20, exact: true, filter }), want, filter);
        if (want.length > 0) some++;
      }
      assert.ok(some > 10, `only ${some} filters matched anything`);
    } finally {
      await Promise.all([disk.close(), db.close()]);
    }
  });

  test("add and delete keep matching the folder index; ordinals are never reused", async () => {
    const first = docs(120, 11, "a");
    const more = docs(60, 12, "b");
    const dir = path.join(root, "updates");
    const url = server.url("upd_");
    await buildIndex(dir, arraySource(first), DIM, { nbits: 2 });
    await buildPgIndex(url, arraySource(first), DIM, { nbits: 2 });
    assert.deepEqual(await deleteFromIndex(dir, ["a1", "a2", "zz", "a1"]).then((r) => [r.deleted, r.missing]), [["a1", "a2"], ["zz", "a1"]]);
    assert.deepEqual(await deleteFromPgIndex(url, ["a1", "a2", "zz", "a1"]), { deleted: ["a1", "a2"], missing: ["zz", "a1"] });
    await addToIndex(dir, arraySource([...more, { ...(first[1] as EmbeddedDoc) }]));
    const added = await addToPgIndex(url, arraySource([...more, { ...(first[1] as EmbeddedDoc) }]), { insertDocs: 25 });
    assert.deepEqual(added, { generation: 3, liveDocuments: 179, written: 61 });
    const disk = await PlaidIndex.open(dir);
    const db = await PgIndex.open(url);
    try {
      for (const q of [more[3], first[1], first[50]]) {
        const want = await disk.search(asQuery(q as EmbeddedDoc), { k: 20, exact: true });
        assert.deepEqual(await db.search(asQuery(q as EmbeddedDoc), { k: 20, exact: true }), want);
      }
      // The re-added a1 has a new ordinal after every earlier one.
      const hit = (await db.search(asQuery(first[1] as EmbeddedDoc), { k: 1, exact: true, ids: ["a1"] }))[0];
      assert.equal(hit?.ordinal, 180);
    } finally {
      await Promise.all([disk.close(), db.close()]);
    }
  });

  test("refusals: live and repeated ids, existing index, empty corpus, bad dims; a failed add changes nothing", async () => {
    const corpus = docs(40, 21, "r");
    const url = server.url("ref_");
    await buildPgIndex(url, arraySource(corpus), DIM);
    await assert.rejects(buildPgIndex(url, arraySource(corpus), DIM), isCode("INPUT_INVALID"));
    await assert.rejects(buildPgIndex(server.url("empty_"), arraySource([]), DIM), isCode("INPUT_INVALID"));
    await assert.rejects(buildPgIndex(server.url("dup_"), arraySource([corpus[0] as EmbeddedDoc, corpus[0] as EmbeddedDoc]), DIM), isCode("INPUT_INVALID"));
    // The second batch holds a live id: the first batch's rows must not stay.
    const fresh = docs(10, 22, "new");
    await assert.rejects(addToPgIndex(url, arraySource([...fresh, corpus[3] as EmbeddedDoc], 5), { insertDocs: 5 }), isCode("INPUT_INVALID"));
    await assert.rejects(addToPgIndex(url, arraySource([{ ...(fresh[0] as EmbeddedDoc), text: "a\u0000b" }])), isCode("INPUT_INVALID"));
    await assert.rejects(addToPgIndex(url, arraySource([{ ...(fresh[0] as EmbeddedDoc), metadata: { k: "\ud800" } }])), isCode("INPUT_INVALID"));
    await assert.rejects(addToPgIndex(url, arraySource([{ ...(fresh[0] as EmbeddedDoc), vectors: new Float32Array(3) }])), isCode("INPUT_INVALID"));
    const db = await PgIndex.open(url);
    try {
      assert.equal((await db.info()).liveDocuments, 40);
      assert.equal((await db.info()).generation, 1);
      await assert.rejects(db.search({ vectors: new Float32Array(16), tokens: 1, dim: 16 }), isCode("DIM_UNSUPPORTED"));
      await assert.rejects(db.search(asQuery(corpus[0] as EmbeddedDoc), { filter: "group = " }), isCode("FILTER_INVALID"));
      await assert.rejects(db.search(asQuery(corpus[0] as EmbeddedDoc), { k: 0 }), isCode("INPUT_INVALID"));
    } finally {
      await db.close();
    }
    await assert.rejects(db.search(asQuery(corpus[0] as EmbeddedDoc)), isCode("CLOSED"));
  });

  test("a writer holding the lock makes another get INDEX_BUSY", async () => {
    const url = server.url("busy_");
    await buildPgIndex(url, arraySource(docs(20, 31, "b")), DIM);
    const holder = new pg.Client(server.config);
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["colts-index:busy_"]);
      await assert.rejects(deleteFromPgIndex(url, ["b1"]), isCode("INDEX_BUSY"));
      await holder.query("ROLLBACK");
      assert.deepEqual(await deleteFromPgIndex(url, ["b1"]), { deleted: ["b1"], missing: [] });
    } finally {
      await holder.end();
    }
  });

  test("schema version: no index is INDEX_NOT_FOUND, another version INDEX_VERSION, a foreign table INDEX_CORRUPT", async () => {
    await assert.rejects(PgIndex.open(server.url("nothing_")), isCode("INDEX_NOT_FOUND"));
    await assert.rejects(addToPgIndex(server.url("nothing_"), arraySource(docs(2, 1, "x"))), isCode("INDEX_NOT_FOUND"));
    const url = server.url("ver_");
    await buildPgIndex(url, arraySource(docs(20, 41, "v")), DIM);
    const c = new pg.Client(server.config);
    await c.connect();
    try {
      await c.query('UPDATE "ver_schema" SET version = 6');
      await assert.rejects(PgIndex.open(url), (e: unknown) => isCode("INDEX_VERSION")(e) && /upgrade colts/.test((e as Error).message));
      await assert.rejects(deleteFromPgIndex(url, ["v1"]), isCode("INDEX_VERSION"));
      await c.query("UPDATE \"ver_schema\" SET version = 2, format = 'other'");
      await assert.rejects(PgIndex.open(url), isCode("INDEX_CORRUPT"));
      // overwrite replaces it whatever it holds
      await buildPgIndex(url, arraySource(docs(5, 42, "w")), DIM, { overwrite: true });
      const db = await PgIndex.open(url);
      assert.equal((await db.info()).liveDocuments, 5);
      await db.close();
    } finally {
      await c.end();
    }
  });

  test("connection failures are DATABASE_UNAVAILABLE and never show the password", async () => {
    const secret = "NotThePassword123";
    const wrong = server.url("x_").replace(/:[^:@]*@/, `:${secret}@`);
    await assert.rejects(PgIndex.open(wrong), isCode("DATABASE_UNAVAILABLE", secret));
    const closedPort = `postgres://colts:${secret}@127.0.0.1:1/colts?connect_timeout=2`;
    await assert.rejects(PgIndex.open(closedPort), isCode("DATABASE_UNAVAILABLE", secret));
  });

  test("HNSW build parameters: pgvector's defaults, or the given m and ef_construction; out of range is INPUT_INVALID before anything is written", async () => {
    const corpus = docs(30, 31, "h");
    const reloptions = async (prefix: string): Promise<string[] | null> => {
      const c = new pg.Client(server.config);
      await c.connect();
      try {
        const r = await c.query<{ reloptions: string[] | null }>("SELECT reloptions FROM pg_class WHERE relname = $1", [`${prefix}documents_fde`]);
        assert.equal(r.rows.length, 1, `${prefix}: the FDE index exists`);
        return r.rows[0]?.reloptions ?? null;
      } finally {
        await c.end();
      }
    };
    await buildPgIndex(server.url("hdef_"), arraySource(corpus), DIM, { fde: true });
    assert.deepEqual(await reloptions("hdef_"), ["m=16", "ef_construction=64"]);
    await buildPgIndex(server.url("hset_"), arraySource(corpus), DIM, { fde: true, hnsw: { m: 8, efConstruction: 40 } });
    assert.deepEqual(await reloptions("hset_"), ["m=8", "ef_construction=40"]);
    const db = await PgIndex.open(server.url("hset_"));
    try {
      assert.equal((await db.search(asQuery(corpus[5] as EmbeddedDoc), { k: 3 }))[0]?.id, "h5");
    } finally {
      await db.close();
    }
    for (const hnsw of [{ m: 1 }, { m: 101 }, { efConstruction: 3 }, { m: 40, efConstruction: 64 }, { m: 2.5 }]) {
      await assert.rejects(buildPgIndex(server.url("hbad_"), arraySource(corpus), DIM, { fde: true, hnsw }), isCodeMatching("INPUT_INVALID", /hnsw\./), JSON.stringify(hnsw));
    }
    // Without FDEs there is no HNSW index for the settings to shape.
    for (const fde of [undefined, false]) {
      await assert.rejects(buildPgIndex(server.url("hbad_"), arraySource(corpus), DIM, { ...(fde === undefined ? {} : { fde }), hnsw: { m: 8 } }), isCodeMatching("INPUT_INVALID", /stores none.*fde: true/));
    }
    await assert.rejects(PgIndex.open(server.url("hbad_")), isCode("INDEX_NOT_FOUND"));
  });

  test("pgvector 0.8 is installed: halfvec and an HNSW index work (the first stage needs them)", async () => {
    const c = new pg.Client(server.config);
    await c.connect();
    try {
      const v = await c.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
      assert.match(v.rows[0]?.extversion ?? "", /^0\.8\./);
      await c.query("CREATE TEMP TABLE fde (id int, e halfvec(3))");
      await c.query("INSERT INTO fde VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')");
      await c.query("CREATE INDEX ON fde USING hnsw (e halfvec_ip_ops)");
      const r = await c.query<{ id: number }>("SELECT id FROM fde ORDER BY e <#> '[1,0,0]' LIMIT 2");
      assert.deepEqual(r.rows.map((x) => x.id), [1, 3]);
    } finally {
      await c.end();
    }
  });
});

test("the test server is stopped and its folder removed by stop()", async () => {
  const s = await startPostgres();
  assert.ok(fs.existsSync(s.folder));
  s.stop();
  s.stop();
  assert.ok(!fs.existsSync(s.folder));
  const c = new pg.Client({ ...s.config, connectionTimeoutMillis: 2000 });
  await assert.rejects(c.connect());
});
