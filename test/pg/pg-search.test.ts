/**
 * Search of the PostgreSQL index location against a throwaway server (test/helpers/postgres.ts):
 * PLAID over the stored IVF lists (equal to the folder index's PLAID search), the FDE first stage through pgvector's HNSW index with exact MaxSim second stage, keyword search
 * through PostgreSQL full-text search, their hybrid, and the schema version they need.
 *
 * The server's database runs with enable_seqscan off: on tables this small the planner would
 * otherwise read every FDE and sort (exact, and not the HNSW path under test). A test EXPLAINs the
 * first-stage statement to show the HNSW index is what answers it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import pg from "pg";
import { queryFde } from "../../src/muvera/fde.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { addToIndex, buildIndex, deleteFromIndex } from "../../src/plaid/writer.js";
import { fdeConfigOf, halfvecLiteral } from "../../src/pg/fde.js";
import { PgIndex, type PgEncodedQuery } from "../../src/pg/pg-index.js";
import { tables } from "../../src/pg/schema.js";
import { condition, fdeCandidatesSql, HNSW_SETTINGS_SQL } from "../../src/pg/search-sql.js";
import { addToPgIndex, buildPgIndex, deleteFromPgIndex } from "../../src/pg/writer.js";
import { fuse } from "../../src/util/rank-fusion.js";
import { isCode } from "../helpers/errors.js";
import { assertIvfMatchesCodes } from "../helpers/pg-ivf.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { suiteDir } from "../helpers/paths.js";
import { syntheticDocs } from "../helpers/synthetic.js";

const DIM = 32;
/** A small FDE (4 x 2^3 x 8 = 256 values) for the larger corpora: the code path is the same. */
const SMALL_FDE = { repetitions: 4, simhashBits: 3, projectionDim: 8 };
const WORDS = ["apple", "river", "stone", "cloud", "forest", "candle", "mirror", "garden", "window", "bridge"];

function asQuery(doc: EmbeddedDoc, text?: string): PgEncodedQuery {
  return { vectors: doc.vectors, tokens: Math.min(doc.n, 8), dim: DIM, ...(text === undefined ? {} : { text }) };
}

/** Documents with metadata and texts of three common words; `marked` documents also hold `word`. */
function docs(n: number, seed: number, prefix: string, word = "", marked: ReadonlySet<number> = new Set()): EmbeddedDoc[] {
  return syntheticDocs(n, DIM, seed, prefix).map((d, i) => ({
    ...d,
    metadata: { group: i % 3, rare: i % 33 === 0 },
    text: `${WORDS[i % 10]} ${WORDS[(i * 7 + 3) % 10]} ${WORDS[(i * 3 + 1) % 10]}${marked.has(i) ? ` ${word}` : ""}`,
  }));
}

/** Scores descending, ties by ordinal ascending: the order every dense retriever promises. */
function assertRanked(hits: readonly { score: number; ordinal: number }[]): void {
  for (let i = 1; i < hits.length; i++) {
    const a = hits[i - 1] as { score: number; ordinal: number };
    const b = hits[i] as { score: number; ordinal: number };
    assert.ok(a.score > b.score || (a.score === b.score && a.ordinal < b.ordinal), `rank ${i}: ${JSON.stringify([a, b])}`);
  }
}

describe("PostgreSQL search: FDE + HNSW first stage, exact MaxSim, keyword and hybrid", () => {
  let server: TestPostgres;
  let sql: pg.Client;
  const root = suiteDir();
  before(async () => {
    server = await startPostgres();
    sql = new pg.Client(server.config);
    await sql.connect();
    await sql.query("ALTER DATABASE colts SET enable_seqscan = off");
  });
  after(async () => {
    await sql?.end();
    server?.stop();
  });

  /** The first stage's candidates as search computes them, run here by hand with the same statement and settings. */
  async function candidatesOf(prefix: string, db: PgIndex, q: PgEncodedQuery, limit: number, efSearch: number, filter?: string, iterative = true): Promise<number[]> {
    const c = new pg.Client(server.config);
    await c.connect();
    try {
      await c.query("BEGIN");
      await c.query(HNSW_SETTINGS_SQL, [efSearch, 20_000]);
      if (!iterative) await c.query("SELECT set_config('hnsw.iterative_scan', 'off', true)");
      const { where, params } = condition({ filter }, 3);
      const fde = halfvecLiteral(queryFde(q.vectors.subarray(0, q.tokens * DIM), q.tokens, fdeConfigOf(db.settings.fde)));
      const r = await c.query<{ ordinal: string }>(fdeCandidatesSql(tables(prefix), where), [fde, limit, ...params]);
      await c.query("COMMIT");
      return r.rows.map((x) => Number(x.ordinal));
    } finally {
      await c.end();
    }
  }

  /** Candidates ordered by the centroid pass's score, computed in plain JS from the stored codes and the codec's centroids. */
  async function centroidPassReference(db: PgIndex, prefix: string, q: PgEncodedQuery, ordinals: number[]): Promise<number[]> {
    const r = await sql.query<{ ordinal: string; codes: Buffer }>(`SELECT ordinal, codes FROM "${prefix}vectors" WHERE ordinal = ANY($1::bigint[])`, [ordinals]);
    const { centroids, dim } = db.codec;
    const score = (codes: Buffer): number => {
      let total = 0;
      for (let i = 0; i < q.tokens; i++) {
        let best = -Infinity;
        for (let j = 0; j < codes.length / 4; j++) {
          const c = codes.readInt32LE(j * 4);
          let dot = 0;
          for (let x = 0; x < dim; x++) dot += (q.vectors[i * dim + x] as number) * (centroids[c * dim + x] as number);
          best = Math.max(best, dot);
        }
        total += best;
      }
      return total;
    };
    const scored = r.rows.map((row) => ({ ordinal: Number(row.ordinal), score: score(row.codes) }));
    return scored.sort((a, b) => b.score - a.score || a.ordinal - b.ordinal).map((x) => x.ordinal);
  }

  test("the first stage is answered by the HNSW index (inner product), filtered or not", async () => {
    const url = server.url("plan_");
    await buildPgIndex(url, arraySource(docs(60, 3, "p")), DIM, { nbits: 2, fde: SMALL_FDE });
    const c = new pg.Client({ ...server.config });
    await c.connect();
    try {
      await c.query("BEGIN");
      await c.query(HNSW_SETTINGS_SQL, [40, 20_000]);
      const probe = `[${new Array(256).fill(0.1).join(",")}]`;
      for (const filter of [undefined, "group = 1"]) {
        const { where, params } = condition({ filter }, 3);
        const plan = await c.query<{ "QUERY PLAN": string }>(`EXPLAIN ${fdeCandidatesSql(tables("plan_"), where)}`, [probe, 10, ...params]);
        const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
        assert.match(text, /Index Scan using plan_documents_fde/, text);
      }
      await c.query("COMMIT");
      const def = await c.query<{ def: string }>("SELECT pg_get_indexdef('plan_documents_fde'::regclass) AS def");
      assert.match(def.rows[0]?.def ?? "", /USING hnsw \(fde halfvec_ip_ops\)/);
      const col = await c.query<{ t: string }>("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'plan_documents'::regclass AND attname = 'fde'");
      assert.equal(col.rows[0]?.t, "halfvec(256)");
    } finally {
      await c.end();
    }
  });

  test("fde with candidates >= documents equals the folder index's exact search; with few candidates, exact MaxSim of exactly the first stage's candidates, or of the best by the centroid pass", async () => {
    const corpus = docs(200, 7, "d");
    const dir = path.join(root, "fde");
    const url = server.url("fde_");
    await buildIndex(dir, arraySource(corpus, 64), DIM, { nbits: 2 });
    await buildPgIndex(url, arraySource(corpus, 64), DIM, { nbits: 2, insertDocs: 70, fde: true });
    const disk = await PlaidIndex.open(dir);
    const db = await PgIndex.open(url);
    try {
      assert.equal(db.settings.fde.size, 3840, "muvera's default FDE");
      for (const qdoc of [corpus[5], corpus[77], corpus[150]] as EmbeddedDoc[]) {
        const q = asQuery(qdoc);
        for (const opts of [{}, { filter: "group = 1" }, { ids: ["d3", "d10", "d11", "d77", "nope"] }]) {
          const want = await disk.search(q, { k: 15, exact: true, ...opts });
          assert.deepEqual(await db.search(q, { retriever: "fde", k: 15, candidates: 200, rerank: 200, ...opts }), want, JSON.stringify(opts));
        }
        // Few candidates: the result is the exact search restricted to the first stage's candidates.
        const ords = await candidatesOf("fde_", db, q, 20, 20);
        assert.equal(ords.length, 20);
        const got = await db.search(q, { retriever: "fde", k: 10, candidates: 20, rerank: 20, efSearch: 20, batchDocs: 7 });
        const ids = ords.map((o) => `d${o}`);
        assert.deepEqual(got, await disk.search(q, { k: 10, exact: true, ids }));
        assertRanked(got);
        // The query's own document is its best match, found by the FDE among 20 of 200.
        assert.equal(got[0]?.id, qdoc.id);
        // The centroid pass: of the 20 candidates, the 8 best by the sum over query vectors of the
        // best centroid score among their codes (computed here by hand) are scored exactly.
        const approx = await centroidPassReference(db, "fde_", q, ords);
        const kept = approx.slice(0, 8).map((o) => `d${o}`);
        assert.deepEqual(await db.search(q, { retriever: "fde", k: 5, candidates: 20, rerank: 8, efSearch: 20, batchDocs: 3 }), await disk.search(q, { k: 5, exact: true, ids: kept }));
      }
    } finally {
      await Promise.all([disk.close(), db.close()]);
    }
  });

  test("plaid equals the folder index's PLAID search: defaults, wider probes, no pruning, small ndocs; with a filter, an id list, and a filter too selective for the probed cells", async () => {
    const corpus = docs(240, 17, "p");
    const dir = path.join(root, "plaid");
    const url = server.url("pl_");
    await buildIndex(dir, arraySource(corpus, 64), DIM, { nbits: 2 });
    await buildPgIndex(url, arraySource(corpus, 64), DIM, { nbits: 2, fde: SMALL_FDE, insertDocs: 50 });
    const disk = await PlaidIndex.open(dir);
    const db = await PgIndex.open(url);
    const pgClient = new pg.Client(server.config);
    await pgClient.connect();
    try {
      assert.equal(await assertIvfMatchesCodes(pgClient, "pl_", "after the build") > 240, true, "every document is listed under its centroids");
      const paramSets = [{}, { ncells: 2 }, { ncells: 4, centroidScoreThreshold: 0.3, ndocs: 32 }, { ndocs: 8 }, { centroidScoreThreshold: 5 }];
      const optSets = [{}, { filter: "group = 1" }, { ids: ["p3", "p10", "p11", "p77", "p5", "nope"] }, { filter: "rare = 1" }];
      let compared = 0;
      for (const qdoc of [corpus[5], corpus[77], corpus[150], corpus[231]] as EmbeddedDoc[]) {
        const q = asQuery(qdoc);
        for (const params of paramSets) {
          for (const opts of optSets) {
            for (const k of [3, 10]) {
              const want = await disk.search(q, { k, params, ...opts });
              const got = await db.search(q, { retriever: "plaid", k, plaid: params, ...opts });
              assert.deepEqual(got, want, JSON.stringify({ q: qdoc.id, k, params, opts }));
              compared += want.length;
            }
          }
        }
        // Every centroid probed, none pruned, every candidate kept: PLAID's answer is the exact one.
        const K = db.codec.numCentroids;
        assert.deepEqual(await db.search(q, { k: 10, plaid: { ncells: K, centroidScoreThreshold: -1e9, ndocs: 4 * 240 } }), await disk.search(q, { k: 10, exact: true }));
        // The default retriever is plaid.
        assert.deepEqual(await db.search(q, { k: 10 }), await disk.search(q, { k: 10 }));
      }
      assert.ok(compared > 400, `hits compared: ${compared}`);
      await assert.rejects(db.search(asQuery(corpus[0] as EmbeddedDoc), { plaid: { ncells: 0 } }), isCode("INPUT_INVALID", /plaid\.ncells/));
      await assert.rejects(db.search(asQuery(corpus[0] as EmbeddedDoc), { plaid: { centroidScoreThreshold: Number.NaN } }), isCode("INPUT_INVALID", /centroidScoreThreshold/));
    } finally {
      await pgClient.end();
      await Promise.all([disk.close(), db.close()]);
    }
  });

  test("by default a build stores no FDEs and no HNSW index; plaid still equals the folder's, adds keep the lists, the fde retriever is refused", async () => {
    const corpus = docs(150, 19, "n");
    const more = docs(30, 20, "m");
    const dir = path.join(root, "nofde");
    const url = server.url("nofde_");
    await buildIndex(dir, arraySource(corpus), DIM, { nbits: 2 });
    await buildPgIndex(url, arraySource(corpus), DIM, { nbits: 2 });
    await addToIndex(dir, arraySource(more));
    await addToPgIndex(url, arraySource(more));
    const indexes = await sql.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'nofde_documents' ORDER BY indexname");
    assert.deepEqual(
      indexes.rows.map((r) => r.indexname),
      ["nofde_documents_id_key", "nofde_documents_pkey", "nofde_documents_tsv"],
      "no HNSW index",
    );
    const fdes = await sql.query<{ n: string }>('SELECT count(*) AS n FROM "nofde_documents" WHERE fde IS NOT NULL');
    assert.equal(fdes.rows[0]?.n, "0");
    await assertIvfMatchesCodes(sql, "nofde_", "without FDEs");
    const disk = await PlaidIndex.open(dir);
    const db = await PgIndex.open(url);
    try {
      assert.equal((await db.info()).fdeEnabled, false);
      assert.equal((await db.info()).indexBytes.fdeHnsw, 0);
      for (const qdoc of [corpus[3], more[7]] as EmbeddedDoc[]) {
        const q = asQuery(qdoc);
        assert.deepEqual(await db.search(q, { k: 10 }), await disk.search(q, { k: 10 }));
        assert.deepEqual(await db.search(q, { k: 10, exact: true }), await disk.search(q, { k: 10, exact: true }));
      }
      await assert.rejects(db.search(asQuery(corpus[0] as EmbeddedDoc), { retriever: "fde" }), isCode("INPUT_INVALID", /without FDEs.*plaid/));
    } finally {
      await Promise.all([disk.close(), db.close()]);
    }
  });

  test("a filter matching 3% of the documents still gives min(k, matches) results with few candidates (iterative scan)", async () => {
    const corpus = docs(600, 9, "s");
    const url = server.url("sel_");
    await buildPgIndex(url, arraySource(corpus, 200), DIM, { nbits: 2, fde: SMALL_FDE });
    const db = await PgIndex.open(url);
    try {
      const filter = "rare = 1"; // i % 33 === 0: 19 of 600
      const matching = corpus.filter((_, i) => i % 33 === 0).map((d) => d.id);
      for (const qdoc of [corpus[1], corpus[300]] as EmbeddedDoc[]) {
        const q = asQuery(qdoc);
        // Without the iterative scan, the HNSW search's 10 nearest hold too few matches: the case is one iterative scans decide.
        const plain = await candidatesOf("sel_", db, q, 10, 10, filter, false);
        assert.ok(plain.length < 10, `without iterative scan ${plain.length} candidates`);
        const ten = await db.search(q, { retriever: "fde", k: 10, candidates: 10, efSearch: 10, filter });
        assert.equal(ten.length, 10);
        assert.ok(ten.every((h) => matching.includes(h.id)));
        const all = await db.search(q, { retriever: "fde", k: 30, candidates: 10, efSearch: 10, filter });
        assert.deepEqual(all.map((h) => h.id).sort(), [...matching].sort(), "every match when k exceeds them");
        assert.deepEqual(all, await db.search(q, { k: 30, exact: true, filter }));
      }
    } finally {
      await db.close();
    }
  });

  test("keyword: full-text matches of a word (stemmed with english), filter and ids honoured, documents without text never; hybrid is fuse of the two lists", async () => {
    const marked = new Set([3, 17, 42, 43, 99]);
    const corpus = docs(120, 13, "k", "zebras", marked);
    corpus[60] = { ...(corpus[60] as EmbeddedDoc), text: undefined };
    const url = server.url("kw_");
    await buildPgIndex(url, arraySource(corpus), DIM, { nbits: 2, fde: SMALL_FDE });
    const db = await PgIndex.open(url);
    try {
      assert.equal(db.settings.textSearchConfig, "english");
      const ids = (hits: readonly { id: string }[]): string[] => hits.map((h) => h.id).sort();
      const hits = await db.search({ text: "zebra" }, { retriever: "keyword", k: 50 });
      assert.deepEqual(ids(hits), ["k17", "k3", "k42", "k43", "k99"]);
      for (let i = 1; i < hits.length; i++) assert.ok((hits[i - 1]?.score ?? 0) >= (hits[i]?.score ?? 0));
      assert.ok(hits.every((h) => h.score > 0 && h.metadata !== null));
      // group = i % 3: 3 -> 0, 42 -> 0, 99 -> 0, 17 -> 2, 43 -> 1
      assert.deepEqual(ids(await db.search({ text: "zebra" }, { retriever: "keyword", filter: "group = 0" })), ["k3", "k42", "k99"]);
      assert.deepEqual(ids(await db.search({ text: "zebra" }, { retriever: "keyword", ids: ["k17", "k18", "k99"] })), ["k17", "k99"]);
      assert.equal((await db.search({ text: "zebra" }, { retriever: "keyword", k: 2 })).length, 2);
      assert.deepEqual(await db.search({ text: "the" }, { retriever: "keyword" }), [], "a stop word alone matches nothing");
      // Every document but the one without text holds one of WORDS[0..9] three times over: "apple OR river ..." finds 119.
      const any = await db.search({ text: WORDS.join(" OR ") }, { retriever: "keyword", k: 1000 });
      assert.equal(any.length, 119);
      assert.ok(!any.some((h) => h.id === "k60"));

      const q = asQuery(corpus[42] as EmbeddedDoc, "zebra garden");
      const dense = await db.search(q, { retriever: "plaid", k: 100 });
      const keyword = await db.search(q, { retriever: "keyword", k: 100 });
      assert.deepEqual(await db.search(q, { retriever: "hybrid", k: 10 }), fuse([dense, keyword], [1, 1], 60, 10));
      const dense20 = await db.search(q, { retriever: "plaid", k: 20, filter: "group = 0" });
      const keyword20 = await db.search(q, { retriever: "keyword", k: 20, filter: "group = 0" });
      const fused = fuse([dense20, keyword20], [0.5, 2], 10, 8);
      assert.deepEqual(await db.search(q, { retriever: "hybrid", k: 8, depth: 20, filter: "group = 0", fusion: { denseWeight: 0.5, keywordWeight: 2, rrfK: 10 } }), fused);
      assert.equal(fused[0]?.id, "k42", "in both lists' tops");
    } finally {
      await db.close();
    }
  });

  test("text search configuration 'simple' is recorded and used: no stemming, no stop words; an unknown one is refused", async () => {
    const corpus = docs(30, 15, "t", "the zebras", new Set([4]));
    const url = server.url("simple_");
    await buildPgIndex(url, arraySource(corpus), DIM, { nbits: 2, fde: SMALL_FDE, textSearchConfig: "simple" });
    const db = await PgIndex.open(url);
    try {
      assert.equal((await db.info()).textSearchConfig, "simple");
      assert.deepEqual((await db.search({ text: "zebras" }, { retriever: "keyword" })).map((h) => h.id), ["t4"]);
      assert.deepEqual(await db.search({ text: "zebra" }, { retriever: "keyword" }), []);
      assert.deepEqual((await db.search({ text: "the" }, { retriever: "keyword" })).map((h) => h.id), ["t4"]);
    } finally {
      await db.close();
    }
    await assert.rejects(buildPgIndex(server.url("nocfg_"), arraySource(corpus), DIM, { textSearchConfig: "klingon" }), isCode("INPUT_INVALID", /klingon/));
  });

  test("add and delete keep FDE, HNSW and tsvector consistent with the folder index: added documents found, deleted never returned", async () => {
    const first = docs(150, 21, "a", "wombat", new Set([5, 6]));
    const more = docs(40, 22, "b", "quokka", new Set([0, 1, 2]));
    const dir = path.join(root, "updates");
    const url = server.url("upd_");
    await buildIndex(dir, arraySource(first), DIM, { nbits: 2 });
    await buildPgIndex(url, arraySource(first), DIM, { nbits: 2, fde: SMALL_FDE });
    const gone = ["a5", "a6", "a10", "a11", "a12"];
    await deleteFromIndex(dir, gone);
    assert.deepEqual((await deleteFromPgIndex(url, gone)).deleted, gone);
    await addToIndex(dir, arraySource(more));
    await addToPgIndex(url, arraySource(more), { insertDocs: 15 });
    const listed = await assertIvfMatchesCodes(sql, "upd_", "after delete and add");
    assert.ok(listed >= 185, `${listed} list entries`);
    const disk = await PlaidIndex.open(dir);
    const db = await PgIndex.open(url);
    try {
      for (const qdoc of [more[0], more[30], first[10], first[100]] as EmbeddedDoc[]) {
        const q = asQuery(qdoc);
        const all = await db.search(q, { retriever: "fde", k: 185, candidates: 185 });
        assert.equal(all.length, 185, "every live document reached through the HNSW index");
        assert.ok(!all.some((h) => gone.includes(h.id)));
        assert.deepEqual(all, await disk.search(q, { k: 185, exact: true }));
        const top = await db.search(q, { retriever: "fde", k: 5, candidates: 20 });
        if (!gone.includes(qdoc.id)) assert.equal(top[0]?.id, qdoc.id, "a document is its own best match");
        assert.ok(!top.some((h) => gone.includes(h.id)));
        for (const opts of [{}, { filter: "group = 2" }]) assert.deepEqual(await db.search(q, { retriever: "plaid", k: 10, ...opts }), await disk.search(q, { k: 10, ...opts }), "plaid after add and delete");
      }
      assert.deepEqual((await db.search({ text: "quokka" }, { retriever: "keyword" })).map((h) => h.id).sort(), ["b0", "b1", "b2"]);
      assert.deepEqual(await db.search({ text: "wombat" }, { retriever: "keyword" }), [], "the deleted documents' word");
      const info = await db.info();
      assert.equal(info.liveDocuments, 185);
      assert.ok(info.indexBytes.fdeHnsw > 0 && info.indexBytes.textGin > 0);
    } finally {
      await Promise.all([disk.close(), db.close()]);
    }
  });

  test("a schema version 1 location is refused (INDEX_VERSION: rebuild) and replaced by a build with overwrite", async () => {
    const url = server.url("v1_");
    await buildPgIndex(url, arraySource(docs(20, 31, "v")), DIM, { fde: SMALL_FDE });
    // What a version-1 location looks like to this colts: its schema row says 1 (its tables lack fde and tsv).
    await sql.query('UPDATE "v1_schema" SET version = 1');
    await sql.query('ALTER TABLE "v1_documents" DROP COLUMN fde, DROP COLUMN tsv');
    await assert.rejects(PgIndex.open(url), isCode("INDEX_VERSION", /schema version 1, this colts reads 4 \(one node\) and 5 \(sharded\); rebuild .*overwrite/));
    await assert.rejects(addToPgIndex(url, arraySource(docs(2, 32, "w"))), isCode("INDEX_VERSION"));
    await assert.rejects(deleteFromPgIndex(url, ["v1"]), isCode("INDEX_VERSION"));
    await assert.rejects(buildPgIndex(url, arraySource(docs(5, 33, "w")), DIM), isCode("INPUT_INVALID", /overwrite/));
    await buildPgIndex(url, arraySource(docs(5, 33, "w")), DIM, { overwrite: true, fde: SMALL_FDE });
    const db = await PgIndex.open(url);
    try {
      const info = await db.info();
      assert.equal(info.schemaVersion, 4);
      assert.equal(info.liveDocuments, 5);
      assert.equal(info.fde.size, 256);
      assert.equal((await db.search(asQuery(docs(5, 33, "w")[2] as EmbeddedDoc), { k: 1 }))[0]?.id, "w2");
    } finally {
      await db.close();
    }
  });

  test("search options are checked: contradictions, missing text or vectors, ranges", async () => {
    const corpus = docs(20, 41, "o");
    const url = server.url("opt_");
    await buildPgIndex(url, arraySource(corpus), DIM, { fde: SMALL_FDE });
    const db = await PgIndex.open(url);
    const q = asQuery(corpus[0] as EmbeddedDoc);
    try {
      await assert.rejects(db.search(q, { exact: true, retriever: "keyword" }), isCode("INPUT_INVALID", /exact/));
      await assert.rejects(db.search(q, { retriever: "keyword" }), isCode("INPUT_INVALID", /text/));
      await assert.rejects(db.search(q, { retriever: "hybrid" }), isCode("INPUT_INVALID", /text/));
      await assert.rejects(db.search({ text: "apple" }), isCode("INPUT_INVALID", /vectors/));
      await assert.rejects(db.search(q, { efSearch: 1001 }), isCode("INPUT_INVALID", /efSearch/));
      await assert.rejects(db.search(q, { candidates: 0 }), isCode("INPUT_INVALID", /candidates/));
      await assert.rejects(db.search(q, { retriever: "nope" as "fde" }), isCode("INPUT_INVALID", /retriever/));
      await assert.rejects(db.search({ ...q, text: "x" }, { retriever: "hybrid", fusion: { rrfK: -1 } }), isCode("INPUT_INVALID", /rrfK/));
      // Concurrent searches on one PgIndex share its connection; their transactions must not interleave.
      const retrievers = ["plaid", "hybrid", "fde"] as const;
      const many = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => db.search({ ...asQuery(corpus[i] as EmbeddedDoc), text: "apple" }, { retriever: retrievers[i % 3], k: 3 })));
      assert.deepEqual(many[2], await db.search(asQuery(corpus[2] as EmbeddedDoc), { retriever: "fde", k: 3 }));
      assert.deepEqual(many[3], await db.search(asQuery(corpus[3] as EmbeddedDoc), { k: 3 }));
    } finally {
      await db.close();
    }
  });
});
