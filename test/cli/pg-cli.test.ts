/**
 * A postgres:// URL wherever the CLI takes an index folder, against a throwaway server
 * (test/helpers/postgres.ts): index build / info / add / delete / compact, search, eval and mine,
 * compared with the same commands on a folder; the URL's password never reaches stdout or stderr.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { runCli, type CliRun } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir } from "../helpers/paths.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

const DOCS = [
  { _id: "paris", title: "Paris", text: "Paris is the capital and largest city of France.", lang: "en", year: 2001 },
  { _id: "berlin", title: "Berlin", text: "Berlin is the capital of Germany.", lang: "en", year: 1999 },
  { _id: "kyoto", title: "Kyoto", text: "Kyoto was the imperial capital of Japan for a thousand years.", lang: "en", year: 2010 },
  { _id: "banana", title: "Bananas", text: "Bananas are yellow fruit rich in potassium.", lang: "fr", year: 2005 },
  { _id: "atp", title: "Mitochondria", text: "Mitochondria produce ATP by oxidative phosphorylation.", lang: "de", year: 2015 },
  { _id: "rome", title: "Rome", text: "Rome is the capital of Italy, built on seven hills.", lang: "it", year: 2003 },
  { _id: "apple", title: "Apples", text: "Apples are red or green fruit that grow on trees.", lang: "en", year: 2007 },
  { _id: "dna", title: "DNA", text: "DNA carries the genetic instructions of living organisms.", lang: "en", year: 2012 },
];
const MORE = [
  { _id: "madrid", title: "Madrid", text: "Madrid is the capital of Spain.", lang: "es", year: 2020 },
  { _id: "cherry", title: "Cherries", text: "Cherries are small red stone fruit.", lang: "en", year: 2021 },
];
const jsonl = (docs: object[]): string => docs.map((d) => JSON.stringify(d)).join("\n") + "\n";

interface Hit {
  id: string;
  score: number;
  metadata: Record<string, unknown> | null;
}

describe("colts with a postgres:// index location", () => {
  const cwd = suiteDir();
  let server: TestPostgres;
  let password = "";
  const run = async (argv: string[]): Promise<CliRun> => {
    const r = await runCli(argv, cwd);
    assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), `password printed by colts ${argv.slice(0, 2).join(" ")}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const hits = async (location: string, query: string, extra: string[] = []): Promise<Hit[]> => {
    const r = await run(["search", location, query, "-k", "10", "--json", ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Hit[];
  };

  before(async () => {
    server = await startPostgres();
    password = new URL(server.url()).password;
    assert.ok(password.length >= 16, "the test server has a password to look for");
    const model = await tinyModel(cwd, { layout: "onnx", wordEmbeddingStd: 0.2 });
    fs.renameSync(model, path.join(cwd, "model"));
    fs.writeFileSync(path.join(cwd, "docs.jsonl"), jsonl(DOCS));
    fs.writeFileSync(path.join(cwd, "more.jsonl"), jsonl(MORE));
  });
  after(() => server?.stop());

  test("index build, info and search: the same hits as a folder index, by PLAID and exactly; filters; explanations", async () => {
    const url = server.url("cli_");
    const flags = ["--model", "model", "--input", "docs.jsonl", "--metadata-fields", "lang,year", "--nbits", "2"];
    const b = await run(["index", "build", url, ...flags, "--fde"]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^built postgres:\/\/colts:\*\*\*@127\.0\.0\.1:\d+\/colts\?prefix=cli_: 8 documents, \d+ vectors, \d+ centroids, nbits 2\n$/);
    assert.equal((await run(["index", "build", "idx", ...flags])).code, 0);

    const info = await run(["index", "info", url, "--json"]);
    assert.equal(info.code, 0, info.stderr);
    const i = JSON.parse(info.stdout) as { location: string; liveDocuments: number; dim: number; nbits: number; model: string; schemaVersion: number };
    assert.match(i.location, /\*\*\*@/);
    assert.deepEqual([i.liveDocuments, i.dim, i.nbits, i.model], [8, 16, 2, path.join(cwd, "model")]);
    const table = await run(["index", "info", url]);
    assert.match(table.stdout, /^location {9}postgres:\/\/colts:\*\*\*@/m);
    assert.match(table.stdout, /^live documents {3}8$/m);

    for (const [query, extra] of [["capital of France", []], ["fruit", ["--filter", "lang = 'en' AND year >= 2006"]]] as const) {
      const want = await hits("idx", query, ["--exact", ...extra]);
      assert.deepEqual(await hits(url, query, ["--exact", ...extra]), want, `${query} --exact`);
      // plaid (the default) is the folder index's PLAID search, over the lists stored in PostgreSQL.
      const plaid = await hits("idx", query, [...extra]);
      for (const r of [[], ["--retriever", "plaid"]]) assert.deepEqual(await hits(url, query, [...r, ...extra]), plaid, `${query} ${r.join(" ")}`);
      assert.ok(want.length > 0 && plaid.length > 0);
    }
    assert.deepEqual((await hits(url, "fruit", ["--filter", "lang = 'en' AND year >= 2006"])).map((h) => h.id).sort(), ["apple", "dna", "kyoto"]);
    const e = await run(["search", url, "bananas", "-k", "1", "--explain"]);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /bananas\s+-> bananas/);
  });

  test("keyword retrievers on PostgreSQL: keyword and hybrid run its full-text search; bm25 is refused naming it; a bad filter is FILTER_INVALID", async () => {
    const url = server.url("cli_");
    // "capitals" stems as "capital" does in the english configuration: the four capitals' documents.
    const keyword = await hits(url, "capitals", ["--retriever", "keyword", "-k", "10"]);
    assert.deepEqual(keyword.map((h) => h.id).sort(), ["berlin", "kyoto", "paris", "rome"]);
    const filtered = await hits(url, "capital", ["--retriever", "keyword", "--filter", "lang = 'en'"]);
    assert.deepEqual(filtered.map((h) => h.id).sort(), ["berlin", "kyoto", "paris"]);
    const hybrid = await hits(url, "capital of Germany", ["--retriever", "hybrid", "-k", "3"]);
    assert.equal(hybrid.length, 3);
    assert.equal(hybrid[0]?.id, "berlin");
    // The FDE first stage's options: with more candidates than documents, it equals the exact search.
    assert.deepEqual(await hits(url, "capital", ["--first-stage", "fde", "--candidates", "50", "--ef-search", "40"]), await hits(url, "capital", ["--exact"]));
    // The IVF first stage (the default) probing every centroid and pruning none equals it too.
    assert.deepEqual(await hits(url, "capital", ["--ncells", "100000", "--threshold=-100", "--ndocs", "400"]), await hits(url, "capital", ["--exact"]));
    // FDE options without the FDE stage are refused, naming what to add.
    const notFde = await run(["search", url, "capital", "--candidates", "50"]);
    assert.equal(notFde.code, 1, notFde.stderr);
    assert.match(notFde.stderr, /candidates.*--first-stage fde.*\[INPUT_INVALID\]/);
    const badEf = await run(["search", url, "capital", "--ef-search", "1001"]);
    assert.equal(badEf.code, 2, badEf.stderr);
    assert.match(badEf.stderr, /--ef-search/);
    assert.deepEqual(await hits(url, "capital", ["--first-stage", "fde", "--candidates", "50", "--rerank", "50"]), await hits(url, "capital", ["--exact"]));
    const badRerank = await run(["search", url, "capital", "--rerank", "0"]);
    assert.equal(badRerank.code, 2, badRerank.stderr);
    assert.match(badRerank.stderr, /--rerank/);
    for (const retriever of ["bm25", "bm25+rerank"]) {
      const r = await run(["search", url, "capital", "--retriever", retriever]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /full-text search.*\[INPUT_INVALID\]/);
      assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/, "no stack trace");
    }
    const bad = await run(["search", url, "x", "--filter", "year >"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /FILTER_INVALID/);
  });

  test("index build without --fde: no FDE first stage (info says so, --first-stage fde and --hnsw-m are refused), the IVF stage as on a folder", async () => {
    const url = server.url("clinofde_");
    const b = await run(["index", "build", url, "--model", "model", "--input", "docs.jsonl", "--metadata-fields", "lang,year", "--nbits", "2"]);
    assert.equal(b.code, 0, b.stderr);
    const info = JSON.parse((await run(["index", "info", url, "--json"])).stdout) as { fdeEnabled: boolean; indexBytes: { fdeHnsw: number } };
    assert.deepEqual([info.fdeEnabled, info.indexBytes.fdeHnsw], [false, 0]);
    assert.deepEqual(await hits(url, "capital of France", ["--exact"]), await hits("idx", "capital of France", ["--exact"]));
    const fde = await run(["search", url, "capital", "--first-stage", "fde"]);
    assert.equal(fde.code, 1, fde.stderr);
    assert.match(fde.stderr, /without FDEs.*\[INPUT_INVALID\]/);
    const hnsw = await run(["index", "build", server.url("clihnsw_"), "--model", "model", "--input", "docs.jsonl", "--hnsw-m", "8"]);
    assert.equal(hnsw.code, 1, hnsw.stderr);
    assert.match(hnsw.stderr, /hnsw settings shape the HNSW index over the FDEs.*--fde.*\[INPUT_INVALID\]/);
    const folder = await run(["index", "build", "idx-nofde", "--model", "model", "--input", "docs.jsonl", "--fde"]);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, /FDE settings are a PostgreSQL index's.*\[INPUT_INVALID\]/);
  });

  test("index add, delete, compact, then search: the same as the folder index after the same writes", async () => {
    const url = server.url("cli_");
    for (const loc of [url, "idx"]) {
      const a = await run(["index", "add", loc, "--input", "more.jsonl", "--metadata-fields", "lang,year"]);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout, /: 10 live documents \(generation 2\)/);
      const d = await run(["index", "delete", loc, "--ids", "paris,nope"]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout, "deleted 1; not found: nope\n");
    }
    const again = await run(["index", "add", url, "--input", "more.jsonl"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /document id "(madrid|cherry)" is already in the index.*\[INPUT_INVALID\]/);
    const c = await run(["index", "compact", url]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^postgres:\/\/colts:\*\*\*@.*: nothing to compact .*VACUUM \(ANALYZE\) ran on cli_documents, cli_vectors/);
    const re = await run(["index", "compact", url, "--recluster"]);
    assert.equal(re.code, 1);
    assert.match(re.stderr, /rebuild.*\[INPUT_INVALID\]/);
    const exact = await hits(url, "capital city", ["--exact"]);
    assert.deepEqual(exact, await hits("idx", "capital city", ["--exact"]));
    assert.ok(exact.some((h) => h.id === "madrid") && !exact.some((h) => h.id === "paris"));
    const got = await hits(url, "capital city");
    assert.deepEqual(got, await hits("idx", "capital city"));
    assert.ok(got.length > 0 && !got.some((h) => h.id === "paris"));
  });

  test("eval --index and mine --index on a URL equal the folder's; the report names the location redacted", async () => {
    const beir = path.join(cwd, "beir");
    fs.mkdirSync(path.join(beir, "qrels"), { recursive: true });
    fs.writeFileSync(path.join(beir, "corpus.jsonl"), jsonl([...DOCS, ...MORE]));
    const queries = [
      { _id: "q1", text: "capital of Germany" },
      { _id: "q2", text: "red fruit" },
      { _id: "q3", text: "genetic instructions" },
    ];
    fs.writeFileSync(path.join(beir, "queries.jsonl"), jsonl(queries));
    const qrels = "query-id\tcorpus-id\tscore\nq1\tberlin\t1\nq2\tapple\t1\nq2\tcherry\t1\nq3\tdna\t1\n";
    fs.writeFileSync(path.join(beir, "qrels", "test.tsv"), qrels);
    fs.writeFileSync(path.join(beir, "qrels", "train.tsv"), qrels);
    const url = server.url("cli_");
    const report = async (loc: string, retriever: string): Promise<{ index: string; results: { metrics: Record<string, number> }[] }> => {
      const r = await run(["eval", "--index", loc, "--dataset", "beir", "--retriever", retriever, "--json", "-k", "10"]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { index: string; results: { metrics: Record<string, number> }[] };
    };
    const pg = await report(url, "exact");
    const folder = await report("idx", "exact");
    assert.deepEqual(pg.results[0]?.metrics, folder.results[0]?.metrics);
    assert.ok((pg.results[0]?.metrics["ndcg@10"] ?? 0) > 0);
    assert.match(pg.index, /^postgres:\/\/colts:\*\*\*@/);
    const mined = async (loc: string, out: string): Promise<string> => {
      const r = await run(["mine", "--dataset", "beir", "--split", "train", "--index", loc, "--retriever", "exact", "--window", "1-10", "--negatives", "2", "--output", out]);
      assert.equal(r.code, 0, r.stderr);
      return fs.readFileSync(path.join(cwd, out), "utf8");
    };
    const lines = await mined(url, "pg.jsonl");
    assert.equal(lines, await mined("idx", "folder.jsonl"));
    assert.ok(lines.trim().split("\n").length >= 3);
    const bm25 = await run(["mine", "--dataset", "beir", "--index", url, "--retriever", "bm25", "--output", "x.jsonl"]);
    assert.equal(bm25.code, 1);
    assert.match(bm25.stderr, /full-text search.*\[INPUT_INVALID\]/);
  });

  test("errors name the location redacted: a wrong password, a missing index, a malformed URL", async () => {
    const url = server.url("cli_");
    const wrong = url.replace(`:${password}@`, ":not-the-password-4b1d@");
    const w = await runCli(["search", wrong, "x"], cwd);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /DATABASE_UNAVAILABLE/);
    assert.ok(!w.stderr.includes("not-the-password-4b1d") && !w.stdout.includes("not-the-password-4b1d"), w.stderr);
    const missing = await run(["index", "info", server.url("none_")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\*\*\*@.*prefix none_.*\[INDEX_NOT_FOUND\]/);
    const add = await run(["index", "add", server.url("none_"), "--input", "more.jsonl"]);
    assert.equal(add.code, 1);
    assert.match(add.stderr, /INDEX_NOT_FOUND/);
    const bad = await run(["index", "delete", url.replace("prefix=cli_", "prefix=Bad-Prefix"), "--ids", "a"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /prefix.*\[INPUT_INVALID\]/);
  });

  test("a sharded build: index build --shards, info lists the shards, search and add name the coordinator alone, hits equal one node's", async () => {
    const shards = await Promise.all([startPostgres({ password }), startPostgres({ password })]);
    try {
      const url = server.url("shcli_");
      const flags = ["--model", "model", "--input", "docs.jsonl", "--metadata-fields", "lang,year", "--nbits", "2"];
      const b = await run(["index", "build", url, ...flags, "--shards", shards.map((s) => s.url("shcli_")).join(","), "--fde", "--hnsw-m", "8", "--hnsw-ef-construction", "32"]);
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stdout, /^built postgres:\/\/colts:\*\*\*@127\.0\.0\.1:\d+\/colts\?prefix=shcli_: 8 documents/);
      const table = await run(["index", "info", url]);
      assert.equal(table.code, 0, table.stderr);
      const rows = [...table.stdout.matchAll(/^shard (\d) \(127\.0\.0\.1:\d+\/colts\) +(\d+) documents/gm)].map((m) => [Number(m[1]), Number(m[2])]);
      assert.equal(rows.length, 2, table.stdout);
      assert.equal((rows[0]?.[1] ?? 0) + (rows[1]?.[1] ?? 0), 8);
      assert.equal((await run(["index", "add", url, "--input", "more.jsonl"])).code, 0);
      const one = server.url("shone_");
      assert.equal((await run(["index", "build", one, ...flags])).code, 0);
      assert.equal((await run(["index", "add", one, "--input", "more.jsonl"])).code, 0);
      for (const extra of [[], ["--exact"], ["--retriever", "keyword"], ["--filter", "lang = 'en'"]]) {
        const want = await hits(one, "capital city", extra);
        assert.ok(want.length > 0);
        assert.deepEqual(await hits(url, "capital city", extra), want, extra.join(" "));
      }
      const folder = await run(["index", "build", "idx-sharded", ...flags, "--shards", shards[0]?.url("shcli_") ?? ""]);
      assert.equal(folder.code, 1);
      assert.match(folder.stderr, /shards are PostgreSQL nodes.*\[INPUT_INVALID\]/);
      const hnswOnFolder = await run(["index", "build", "idx-hnsw", ...flags, "--hnsw-m", "8"]);
      assert.equal(hnswOnFolder.code, 1);
      assert.match(hnswOnFolder.stderr, /hnsw settings are pgvector's.*\[INPUT_INVALID\]/);
      assert.ok(!fs.existsSync(path.join(cwd, "idx-hnsw", "manifest.json")));
      const badM = await run(["index", "build", server.url("hnbad_"), ...flags, "--hnsw-m", "1"]);
      assert.equal(badM.code, 2, badM.stderr);

      // A stopped shard: an error naming it, or with --allow-partial the other shard's hits and a warning.
      const all = await hits(url, "capital city", ["--exact", "-k", "10"]);
      const down = shards[1];
      const name = new RegExp(`shard 1 \\(127\\.0\\.0\\.1:${String(down.config.port)}/colts\\)`);
      const allIds = new Set(all.map((h) => h.id));
      down.halt();
      const refused = await run(["search", url, "capital city", "--exact"]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /\[SHARD_UNAVAILABLE\]/);
      assert.match(refused.stderr, name);
      const partial = await run(["search", url, "capital city", "--exact", "-k", "10", "--json", "--allow-partial"]);
      assert.equal(partial.code, 0, partial.stderr);
      const kept = JSON.parse(partial.stdout) as Hit[];
      assert.ok(kept.length > 0 && kept.length < all.length, `${kept.length} of ${all.length}`);
      assert.deepEqual(kept, all.filter((h) => kept.some((k) => k.id === h.id)), "the full ranking, less the stopped shard's documents");
      assert.ok(kept.every((h) => allIds.has(h.id)));
      assert.match(partial.stderr, /^warning: partial: the results leave out shard 1 .*, which did not answer$/m);
      assert.match(partial.stderr, name);
      fs.writeFileSync(path.join(cwd, "two.jsonl"), jsonl([{ _id: "q1", text: "capital city" }, { _id: "q2", text: "red fruit" }]));
      const runFile = await run(["search", url, "--queries", "two.jsonl", "--output", "two.trec", "--retriever", "hybrid", "--allow-partial"]);
      assert.equal(runFile.code, 0, runFile.stderr);
      assert.match(runFile.stderr, /^warning: partial: 2 of the queries' results leave out shard 1 /m);
      assert.ok(fs.readFileSync(path.join(cwd, "two.trec"), "utf8").split("\n").some((l) => l.startsWith("q2 Q0 ")));
      down.resume();
      const whole = await run(["search", url, "capital city", "--exact", "-k", "10", "--json", "--allow-partial"]);
      assert.equal(whole.code, 0, whole.stderr);
      assert.deepEqual(JSON.parse(whole.stdout), all);
      assert.equal(whole.stderr, "", "no warning once every shard answers");
    } finally {
      for (const s of shards) s.stop();
    }
  });

  test("help pages say a location may be a folder or a postgres:// URL", async () => {
    for (const argv of [["index", "build", "--help"], ["index", "info", "--help"], ["search", "--help"], ["serve", "--help"], ["eval", "--help"], ["mine", "--help"]]) {
      const r = await runCli(argv, cwd);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /postgres:\/\//, argv.join(" "));
    }
  });
});
