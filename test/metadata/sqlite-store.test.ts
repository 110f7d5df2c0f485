import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { METADATA_SCHEMA_VERSION, MetadataStore, type MetadataRow } from "../../src/metadata/sqlite-store.js";
import { tempDir } from "../helpers/paths.js";

const META = [
  { title: "first", year: 1999, score: 0.1, third: 1 / 3, huge: 1e300, big: 2 ** 60, flag: true, none: null },
  { title: "unicode 😀 \u0000 \ud800 \"q\" 'a'", tags: ["x", 2, null], nest: { a: { b: [] } }, empty: {} },
  null,
  {},
];

function rows(from: number, to: number, meta: (i: number) => Record<string, unknown> | null = (i) => ({ n: i })): MetadataRow[] {
  return Array.from({ length: to - from }, (_, k) => ({ ordinal: from + k, id: `doc-${from + k}`, meta: meta(from + k) }));
}

test("rows round-trip: ids, metadata (exact numbers, unicode, nesting), lookups by id", (t) => {
  const s = MetadataStore.open(path.join(tempDir(t), "meta.sqlite"));
  t.after(() => s.close());
  s.insert(META.map((meta, ordinal) => ({ ordinal, id: `id-${ordinal}`, meta })));
  s.insert([{ ordinal: 4, id: "no-meta", text: "the text of doc 4" }]);
  assert.deepEqual(s.idsForOrdinals([3, 0, 4]), ["id-3", "id-0", "no-meta"]);
  assert.deepEqual(s.textsForOrdinals([4, 0]), ["the text of doc 4", null]);
  assert.throws(() => s.textsForOrdinals([5]), { code: "INDEX_CORRUPT" });
  assert.deepEqual(s.metaForOrdinals(Int32Array.from([0, 1, 2, 3, 4])), [...META, null]);
  assert.deepEqual(s.docsForOrdinals([1]), [{ id: "id-1", meta: META[1] }]);
  assert.deepEqual(s.idsForOrdinals([]), []);
  assert.throws(() => s.idsForOrdinals([0, 99]), { code: "INDEX_CORRUPT", message: /ordinal 99/ });
  const found = s.ordinalsForIds(["id-2", "nope", "no-meta", "id-2"], 5);
  assert.deepEqual([...found], [["id-2", 2], ["no-meta", 4]]);
  assert.deepEqual(Array.from(s.filterOrdinals("year = 1999 AND flag = TRUE AND big > 1e18 AND third < 0.34", 5)), [0]);
  assert.deepEqual(Array.from(s.filterOrdinals("nest.a IS NOT NULL OR title LIKE 'unicode%'", 5)), [1]);
});

test("the database is WAL, versioned, survives close and reopen, and serves read-only readers", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "meta.sqlite");
  const w = MetadataStore.open(file);
  w.insert(rows(0, 10));
  const raw = new Database(file, { readonly: true });
  assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(raw.pragma("user_version", { simple: true }), METADATA_SCHEMA_VERSION);
  raw.close();

  // A reader in its own connection sees each committed add while the writer stays open.
  const r = MetadataStore.open(file, { readonly: true });
  assert.equal(r.readOnly, true);
  assert.deepEqual(Array.from(r.filterOrdinals("n >= 8", 100)), [8, 9]);
  w.insert(rows(10, 12));
  assert.deepEqual(Array.from(r.filterOrdinals("n >= 8", 100)), [8, 9, 10, 11]);
  assert.throws(() => r.insert(rows(12, 13)), { code: "INPUT_INVALID", message: /read-only/ });
  assert.throws(() => r.removeOrdinals([0]), { code: "INPUT_INVALID" });
  r.close();
  w.close();
  w.close(); // idempotent
  assert.throws(() => w.idsForOrdinals([0]), { code: "CLOSED" });
  assert.throws(() => w.filterOrdinals("n = 1", 12), { code: "CLOSED" });
  assert.throws(() => w.insert(rows(12, 13)), { code: "CLOSED" });

  const again = MetadataStore.open(file);
  t.after(() => again.close());
  assert.deepEqual(again.idsForOrdinals([0, 11]), ["doc-0", "doc-11"]);
  assert.deepEqual(again.metaForOrdinals([11]), [{ n: 11 }]);
});

test("leftovers of an interrupted add (ordinals >= limit) are ignored by lookups and overwritten by the next add", (t) => {
  const s = MetadataStore.open(path.join(tempDir(t), "meta.sqlite"));
  t.after(() => s.close());
  s.insert(rows(0, 10, (i) => ({ n: i, batch: "committed" })));
  // An add wrote 10..14 to SQLite, then crashed before its manifest (numDocs stays 10).
  s.insert(rows(10, 15, (i) => ({ n: i, batch: "lost" })).map((r) => ({ ...r, id: `lost-${r.ordinal}` })));
  const limit = 10;
  assert.deepEqual(Array.from(s.filterOrdinals("batch = 'lost' OR n >= 8", limit)), [8, 9]);
  assert.equal(s.ordinalsForIds(["lost-10", "doc-3"], limit).size, 1);
  // The next add reuses ordinals 10..12 with other ids; 13..14 stay leftovers until truncated.
  s.insert(rows(10, 13, (i) => ({ n: i, batch: "next" })));
  assert.deepEqual(s.idsForOrdinals([10, 11, 12]), ["doc-10", "doc-11", "doc-12"]);
  assert.deepEqual(s.metaForOrdinals([12]), [{ n: 12, batch: "next" }]);
  assert.deepEqual(Array.from(s.filterOrdinals("batch = 'lost'", 13)), []);
  assert.deepEqual(Array.from(s.filterOrdinals("batch = 'lost'", 100)), [13, 14]);
  assert.equal(s.truncate(13), 2);
  assert.deepEqual(Array.from(s.filterOrdinals("n >= 0", 100)), Array.from({ length: 13 }, (_, i) => i));
});

test("a re-added id: the highest live ordinal below the limit wins; compaction removes the old row", (t) => {
  const s = MetadataStore.open(path.join(tempDir(t), "meta.sqlite"));
  t.after(() => s.close());
  s.insert(rows(0, 3));
  s.insert([{ ordinal: 3, id: "doc-1", meta: { v: 2 } }]); // doc-1 re-added; ordinal 1 tombstoned by the index
  const tombstones = new Set([1]);
  const isLive = (o: number): boolean => !tombstones.has(o);
  assert.deepEqual(s.ordinalsForIds(["doc-1"], 4, isLive).get("doc-1"), 3);
  assert.deepEqual(s.ordinalsForIds(["doc-1"], 3).get("doc-1"), 1); // the manifest before the re-add
  assert.deepEqual(s.ordinalsForIds(["doc-1"], 3, isLive).has("doc-1"), false);
  assert.deepEqual(Array.from(s.filterOrdinals("n >= 0 OR v = 2", 4, isLive)), [0, 2, 3]);
  assert.equal(s.removeOrdinals([1, 99]), 1);
  assert.deepEqual(s.ordinalsForIds(["doc-1"], 4).get("doc-1"), 3);
  assert.throws(() => s.metaForOrdinals([1]), { code: "INDEX_CORRUPT" });
});

test("bad input is refused before anything is written", (t) => {
  const s = MetadataStore.open(path.join(tempDir(t), "meta.sqlite"));
  t.after(() => s.close());
  const bad: [unknown[], RegExp][] = [
    [[{ ordinal: 0, id: "a" }, { ordinal: 0, id: "b" }], /ordinal 0 appears twice/],
    [[{ ordinal: 0, id: "a" }, { ordinal: 1, id: "a" }], /id "a" appears twice/],
    [[{ ordinal: -1, id: "a" }], /ordinal -1/],
    [[{ ordinal: 1.5, id: "a" }], /ordinal 1.5/],
    [[{ ordinal: 2 ** 31, id: "a" }], /ordinal/],
    [[{ ordinal: 0, id: 7 }], /id must be a string/],
    [[{ ordinal: 0, id: "a", text: 5 }], /text must be a string/],
    [[{ ordinal: 0, id: "a", meta: [1] }], /plain object/],
    [[{ ordinal: 0, id: "a", meta: new Date() }], /plain object/],
    [[{ ordinal: 0, id: "a", meta: { x: Number.NaN } }], /x: NaN is not a finite number/],
    [[{ ordinal: 0, id: "a", meta: { x: [1, Infinity] } }], /x\[1\]: Infinity/],
    [[{ ordinal: 0, id: "a", meta: { x: 1n } }], /bigint/],
    [[{ ordinal: 0, id: "a", meta: { x: new Map() } }], /non-plain object/],
    [[{ ordinal: 0, id: "ok", meta: { fine: 1 } }, { ordinal: 1, id: "b", meta: { f: () => 1 } }], /function/],
  ];
  for (const [batch, message] of bad) {
    assert.throws(() => s.insert(batch as MetadataRow[]), { code: "INPUT_INVALID", message }, String(message));
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => s.insert([{ ordinal: 0, id: "c", meta: cyclic }]), { code: "INPUT_INVALID", message: /cyclic/ });
  assert.deepEqual(Array.from(s.filterOrdinals("x IS NULL", 10)), []);
  assert.equal(s.ordinalsForIds(["ok"], 10).size, 0);
  assert.throws(() => s.filterOrdinals("x = 1", -1), { code: "INPUT_INVALID" });
  assert.throws(() => s.ordinalsForIds(["a"], 1.5), { code: "INPUT_INVALID" });
  assert.throws(() => s.filterOrdinals("x = ", 10), { code: "FILTER_INVALID", message: /column 5/ });
});

test("open refuses a newer schema, a non-database and a missing file with their codes", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "meta.sqlite");
  MetadataStore.open(file).close();
  const raw = new Database(file);
  raw.pragma(`user_version = ${METADATA_SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => MetadataStore.open(file), { code: "INDEX_VERSION", message: /version 2 is newer than 1/ });
  assert.throws(() => MetadataStore.open(file, { readonly: true }), { code: "INDEX_VERSION" });

  const junk = path.join(dir, "junk.sqlite");
  fs.writeFileSync(junk, "this is not a database, just some text that is long enough to have a header.".repeat(20));
  assert.throws(() => MetadataStore.open(junk), { code: "INDEX_CORRUPT" });
  assert.throws(() => MetadataStore.open(junk, { readonly: true }), { code: "INDEX_CORRUPT" });

  const blank = path.join(dir, "blank.sqlite");
  new Database(blank).close();
  assert.throws(() => MetadataStore.open(blank, { readonly: true }), { code: "INDEX_CORRUPT", message: /not an initialised/ });

  const foreign = path.join(dir, "foreign.sqlite");
  const other = new Database(foreign);
  other.pragma(`user_version = ${METADATA_SCHEMA_VERSION}`);
  other.close();
  assert.throws(() => MetadataStore.open(foreign), { code: "INDEX_CORRUPT" });

  assert.throws(() => MetadataStore.open(path.join(dir, "missing.sqlite"), { readonly: true }), { code: "INDEX_NOT_FOUND" });
  assert.throws(() => MetadataStore.open(path.join(dir, "no", "such", "meta.sqlite")), { code: "INDEX_NOT_FOUND" });
});

// The times go to the test's diagnostics only: speed is measured by benchmarks, and a loaded CI
// machine must not fail a correct store.
test("100k rows: one-transaction insert and filters (times reported, not asserted)", (t) => {
  const s = MetadataStore.open(path.join(tempDir(t), "meta.sqlite"));
  t.after(() => s.close());
  const n = 100_000;
  const langs = ["en", "fr", "de", "es"];
  const batch = rows(0, n, (i) => ({ year: 1950 + (i % 75), lang: langs[i % 4] ?? "en", title: `title of document ${i}`, score: (i % 1000) / 7 }));
  let t0 = performance.now();
  s.insert(batch);
  const insertMs = performance.now() - t0;
  t0 = performance.now();
  const recent = s.filterOrdinals("year >= 2000", n);
  const filterMs = performance.now() - t0;
  t0 = performance.now();
  const both = s.filterOrdinals("lang = 'en' AND year BETWEEN 1990 AND 1994", n);
  const filter2Ms = performance.now() - t0;
  t0 = performance.now();
  const ids = s.ordinalsForIds(Array.from({ length: 10_000 }, (_, i) => `doc-${i * 7}`), n);
  const idsMs = performance.now() - t0;
  t.diagnostic(
    `insert ${n}: ${insertMs.toFixed(0)} ms; filter year>=2000 (${recent.length} hits): ${filterMs.toFixed(0)} ms; ` +
      `lang AND BETWEEN (${both.length}): ${filter2Ms.toFixed(0)} ms; 10k ids: ${idsMs.toFixed(0)} ms`,
  );
  const count = (keep: (i: number) => boolean): number => Array.from({ length: n }, (_, i) => i).filter(keep).length;
  assert.equal(recent.length, count((i) => i % 75 >= 50));
  assert.equal(both.length, count((i) => i % 4 === 0 && i % 75 >= 40 && i % 75 <= 44));
  assert.equal(ids.size, 10_000);
});
