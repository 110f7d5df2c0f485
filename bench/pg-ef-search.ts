/**
 * How many of the exact top-10 the PostgreSQL index's "fde" retriever returns, for a few first-stage
 * sizes (candidates) and HNSW ef_search values; the measurement behind search-options.ts
 * DEFAULT_EF_FACTOR.
 *
 *   scripts/pg-local.sh start            # prints a URL
 *   npx tsc -p . && nice -n 19 node dist/bench/pg-ef-search.js --url 'postgres://...' [--docs 2000]
 *     [--dim 128] [--tokens 30] [--queries 100] [--candidates 50,100,200] [--factors 1,2,4]
 *
 * Documents: `tokens` +- 50% unit vectors drawn around 100 random topic centres; queries: 16 such
 * vectors. Truth: the "exact" retriever's top-10 (exact MaxSim over every document). Columns: recall
 * of that top-10 in the "fde" retriever's top-10 (what a user gets), and the share of the brute-force
 * FDE top-C that the HNSW index returned (how well ef_search finds the FDE neighbours; the brute
 * force is the same statement with index scans disabled). Default FDE (3,840 values). The bench sets
 * enable_seqscan off for its database (ALTER DATABASE: use a throwaway server), so that a table this
 * small is read through the HNSW index as a large one would be, not scanned and sorted.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { queryFde } from "../src/muvera/fde.js";
import { arraySource, type EmbeddedDoc } from "../src/plaid/source.js";
import { fdeConfigOf, halfvecLiteral } from "../src/pg/fde.js";
import { PgIndex, type PgEncodedQuery } from "../src/pg/pg-index.js";
import { tables } from "../src/pg/schema.js";
import { fdeCandidatesSql, HNSW_SETTINGS_SQL } from "../src/pg/search-sql.js";
import { parsePgUrl, redactUrl } from "../src/pg/url.js";
import { buildPgIndex } from "../src/pg/writer.js";
import { Rng } from "../src/util/rng.js";

const { values: a } = parseArgs({
  options: {
    url: { type: "string", default: process.env["COLTS_PG_URL"] },
    docs: { type: "string", default: "2000" },
    dim: { type: "string", default: "128" },
    tokens: { type: "string", default: "30" },
    queries: { type: "string", default: "100" },
    candidates: { type: "string", default: "50,100,200" },
    factors: { type: "string", default: "1,2,4" },
  },
});
if (!a.url) throw new Error("give --url postgres://... (scripts/pg-local.sh start prints one) or set COLTS_PG_URL");
const url = a.url;
const dim = Number(a.dim);
const rng = new Rng(11);
const centres = Array.from({ length: 100 }, () => rng.normalArray(dim, 1));

/** n unit vectors around random centres. Returns [n, dim] row-major. */
function vectors(n: number): Float32Array {
  const v = new Float32Array(n * dim);
  for (let t = 0; t < n; t++) {
    const c = centres[rng.int(centres.length)] as Float32Array;
    const row = Array.from({ length: dim }, (_, k) => (c[k] as number) + 0.5 * rng.normal());
    const norm = Math.hypot(...row);
    row.forEach((x, k) => (v[t * dim + k] = x / norm));
  }
  return v;
}

const docs: EmbeddedDoc[] = Array.from({ length: Number(a.docs) }, (_, i) => {
  const n = Math.max(1, Math.round(Number(a.tokens) * (0.5 + rng.next())));
  return { id: `doc-${i}`, vectors: vectors(n), n };
});
const queries: PgEncodedQuery[] = Array.from({ length: Number(a.queries) }, () => ({ vectors: vectors(16), tokens: 16, dim }));

await buildPgIndex(url, arraySource(docs), dim, { nbits: 2, overwrite: true });
const loc = parsePgUrl(url);
const c = new pg.Client({ host: loc.host, port: loc.port, database: loc.database, user: loc.user, password: loc.password });
await c.connect();
await c.query(`ALTER DATABASE ${JSON.stringify(loc.database)} SET enable_seqscan = off`);
const db = await PgIndex.open(url);

/** First-stage ordinals: through the HNSW index at this ef_search, or by brute force. */
async function firstStage(q: PgEncodedQuery, limit: number, ef: number | "brute force"): Promise<Set<number>> {
  await c.query("BEGIN");
  await c.query(HNSW_SETTINGS_SQL, [ef === "brute force" ? 40 : ef, 20_000]);
  const brute = ef === "brute force" ? "on" : "off";
  await c.query("SELECT set_config('enable_indexscan', $1::text, true), set_config('enable_seqscan', $2::text, true)", [brute === "on" ? "off" : "on", brute]);
  const fde = halfvecLiteral(queryFde(q.vectors, q.tokens, fdeConfigOf(db.settings.fde)));
  const r = await c.query<{ ordinal: string }>(fdeCandidatesSql(tables(loc.prefix), "true"), [fde, limit]);
  await c.query("COMMIT");
  return new Set(r.rows.map((x) => Number(x.ordinal)));
}

const truth = await Promise.all(queries.map(async (q) => new Set((await db.search(q, { k: 10, exact: true })).map((h) => h.id))));
console.log(`${docs.length} documents (${a.tokens} +- 50% vectors, dim ${dim}), ${queries.length} queries of 16 vectors, default FDE; ${redactUrl(url)}`);
console.log("| candidates | efSearch | recall of exact top-10 | HNSW share of brute-force FDE top-C | ms / query |");
console.log("|---:|---:|---:|---:|---:|");
for (const cand of a.candidates.split(",").map(Number)) {
  // One after another: the statements of a transaction must not interleave on the client.
  const brute: Set<number>[] = [];
  for (const q of queries) brute.push(await firstStage(q, cand, "brute force"));
  for (const factor of a.factors.split(",").map(Number)) {
    const ef = Math.min(1000, cand * factor);
    let found = 0;
    let share = 0;
    const t0 = performance.now();
    for (const [i, q] of queries.entries()) {
      const hits = await db.search(q, { k: 10, candidates: cand, efSearch: ef });
      found += hits.filter((h) => truth[i]?.has(h.id)).length;
    }
    const ms = (performance.now() - t0) / queries.length;
    for (const [i, q] of queries.entries()) {
      const got = await firstStage(q, cand, ef);
      share += [...(brute[i] as Set<number>)].filter((o) => got.has(o)).length / cand;
    }
    console.log(`| ${cand} | ${ef} | ${(found / (10 * queries.length)).toFixed(3)} | ${(share / queries.length).toFixed(3)} | ${ms.toFixed(1)} |`);
  }
}
await c.query(`ALTER DATABASE ${JSON.stringify(loc.database)} RESET enable_seqscan`);
await c.end();
await db.close();
