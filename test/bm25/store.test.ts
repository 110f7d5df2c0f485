import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { Analyzer } from "../../src/bm25/analyzer.js";
import { englishAnalyzer } from "../../src/bm25/english.js";
import { decodeBm25, FORMAT_VERSION, writeBm25 } from "../../src/bm25/format.js";
import { Bm25Index } from "../../src/bm25/bm25-index.js";
import { BM25_FILE_NAME, loadBm25, saveBm25 } from "../../src/bm25/store.js";
import { isColtsError, type ErrorCode } from "../../src/errors.js";
import { fixture, tempDir } from "../helpers/paths.js";

const DOCS = [
  { id: "doc-α", text: "Microstructural development of human newborn cerebral white matter" },
  { id: "doc-2", text: "Induction of myelodysplasia by myeloid-derived suppressor cells" },
  { id: "doc-3", text: "BC1 RNA, the transcript from a master gene for ID element amplification" },
  { id: "doc-4", text: "The human myelin basic protein gene is included within a 179-kilobase transcription unit" },
  { id: "doc-5", text: "the of and" },
];
const QUERIES = ["human white matter development", "myeloid cells", "gene transcription", "RNA", "nothing here"];

function built(): Bm25Index {
  const index = new Bm25Index({ k1: 1.2, b: 0.75 });
  index.add(DOCS);
  index.delete(["doc-2"]);
  return index;
}

/** Asserts `fn` rejects with `code` and a message that names `file` and matches `pattern`. */
async function refuses(fn: () => Promise<unknown>, file: string, pattern: RegExp, code: ErrorCode = "INDEX_CORRUPT"): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(isColtsError(e, code), `${code} expected: ${String(e)}`);
    assert.ok(e.message.includes(file), `${e.message} names ${file}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test("save then load gives an index that searches, counts and numbers documents identically", async (t) => {
  const dir = tempDir(t);
  const index = built();
  const { file, bytes } = await saveBm25(dir, index);
  assert.equal(file, path.join(dir, BM25_FILE_NAME));
  assert.equal(fs.statSync(file).size, bytes);
  assert.deepEqual(fs.readdirSync(dir), [BM25_FILE_NAME], "no temp file left behind");

  const loaded = await loadBm25(dir);
  assert.deepEqual(loaded.params, { k1: 1.2, b: 0.75 });
  assert.deepEqual(loaded.analyzer.descriptor, index.analyzer.descriptor);
  assert.deepEqual(loaded.stats(), index.stats());
  for (const q of QUERIES) assert.deepEqual(loaded.search(q, 10), index.search(q, 10), q);
  for (const d of DOCS) assert.equal(loaded.ordinalOf(d.id), index.ordinalOf(d.id), d.id);
  assert.equal(loaded.isDeleted(1), true);
  assert.equal(loaded.idOf(1), "doc-2");

  // The loaded index keeps working: add, delete, save again over the old file.
  loaded.add([{ id: "doc-6", text: "white matter" }]);
  loaded.delete(["doc-α"]);
  assert.deepEqual(
    loaded.search("white matter", 10).map((h) => h.id),
    ["doc-6"],
  );
  await saveBm25(dir, loaded);
  const again = await loadBm25(dir);
  assert.deepEqual(again.search("white matter", 10), loaded.search("white matter", 10));
  assert.equal(again.ordinalOf("doc-6"), 5);
});

test("k1 and b can be overridden at load (norms do not depend on them)", async (t) => {
  const dir = tempDir(t);
  await saveBm25(dir, built());
  const fresh = new Bm25Index({ k1: 0.9, b: 0.4 });
  fresh.add(DOCS);
  fresh.delete(["doc-2"]);
  const loaded = await loadBm25(dir, { k1: 0.9, b: 0.4 });
  for (const q of QUERIES) assert.deepEqual(loaded.search(q, 10), fresh.search(q, 10), q);
});

test("a custom analyser must be passed back, and must be the same one", async (t) => {
  const dir = tempDir(t);
  const lower: Analyzer = { descriptor: { name: "lower", version: 1, options: { x: 1 } }, analyze: (s) => s.toLowerCase().split(/\s+/).filter(Boolean) };
  const index = new Bm25Index({ analyzer: lower });
  index.add([{ id: "a", text: "Hello World" }]);
  await saveBm25(dir, index);
  const file = path.join(dir, BM25_FILE_NAME);
  await refuses(() => loadBm25(dir), file, /not built in/, "INPUT_INVALID");
  await refuses(() => loadBm25(dir, { analyzer: englishAnalyzer() }), file, /differs/, "INPUT_INVALID");
  const loaded = await loadBm25(dir, { analyzer: lower });
  assert.deepEqual(
    loaded.search("hello", 1).map((h) => h.id),
    ["a"],
  );
});

test("refuses missing, foreign, truncated, damaged and unknown-version files, naming them", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, BM25_FILE_NAME);
  await refuses(() => loadBm25(dir), file, /no BM25 index/, "INDEX_NOT_FOUND");
  await saveBm25(dir, built());
  const good = fs.readFileSync(file);

  assert.equal(good.subarray(0, 8).toString("latin1"), "COLTSARR", "written in store/arrays.ts' container");
  const variants: [string, Buffer, RegExp][] = [
    ["truncated data", good.subarray(0, good.length - 10), /header describes \d+ \(truncated or extended\)/],
    ["truncated header", good.subarray(0, 40), /truncated/],
    ["empty", Buffer.alloc(0), /bad magic bytes; only 0 bytes/],
    ["trailing bytes", Buffer.concat([good, Buffer.from([0])]), /truncated or extended/],
    ["foreign", Buffer.from("PK\u0003\u0004 this is a zip, not an index"), /bad magic/],
  ];
  const flipped = Buffer.from(good);
  flipped[flipped.length - 20] = (flipped[flipped.length - 20] ?? 0) ^ 0xff;
  variants.push(["flipped byte", flipped, /checksum mismatch/]);
  const text = good.toString("latin1");
  assert.ok(text.includes(`"kind":"colts-bm25","version":${FORMAT_VERSION},`));
  variants.push(["version 7", Buffer.from(text.replace(`"version":${FORMAT_VERSION},`, '"version":7,'), "latin1"), /colts-bm25 version 7 is newer than this colts understands/]);
  variants.push(["bad header", Buffer.from(text.replace('"kind":"colts-bm25"', '"kind":"colts-bm26"'), "latin1"), /holds "colts-bm26", expected "colts-bm25"/]);

  for (const [name, bytes, pattern] of variants) {
    fs.writeFileSync(file, bytes);
    await t.test(name, () => refuses(() => loadBm25(dir), file, pattern, name === "version 7" ? "INDEX_VERSION" : "INDEX_CORRUPT"));
  }
});

test("decoding checks structure beyond the checksum (a writer bug cannot load silently)", (t) => {
  const index = built();
  const parts = index.toParts();
  const stats = { documents: 5, liveDocuments: 4, terms: parts.terms.length, postings: parts.postings.docs.length, sumDocumentLength: 0 };
  const file = path.join(tempDir(t), "x.bin");
  const decode = (p: typeof parts): unknown => {
    writeBm25(file, p, stats);
    return decodeBm25(file, fs.readFileSync(file));
  };
  assert.doesNotThrow(() => decode(parts));
  const lengths = Uint32Array.from(parts.lengths);
  lengths[0] = (lengths[0] ?? 0) + 1;
  assert.throws(() => decode({ ...parts, lengths }), /do not add up/);
  const docs = Uint32Array.from(parts.postings.docs);
  docs[0] = 99;
  assert.throws(() => decode({ ...parts, postings: { ...parts.postings, docs } }), /bad posting/);
  assert.throws(() => writeBm25(file, { ...parts, ids: [...parts.ids.slice(0, 4), "\uD800"] }, stats), /well-formed/);
});

// test/fixtures/bm25/bm25-v1.bin was written by the version-1 encoder (colts' own container, magic
// "CLTSBM25") from exactly the index `built()` makes: DOCS, k1 1.2, b 0.75, "doc-2" deleted.
test("a version-1 file (the container before store/arrays.ts) still loads and searches as it did", async (t) => {
  const v1 = fs.readFileSync(fixture("bm25", "bm25-v1.bin"));
  assert.equal(v1.subarray(0, 8).toString("latin1"), "CLTSBM25");
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, BM25_FILE_NAME), v1);
  const loaded = await loadBm25(dir);
  const index = built();
  index.compact(); // as saving did before the file was written
  assert.deepEqual(loaded.params, { k1: 1.2, b: 0.75 });
  assert.deepEqual(loaded.analyzer.descriptor, index.analyzer.descriptor);
  assert.deepEqual(loaded.stats(), index.stats());
  for (const q of QUERIES) assert.deepEqual(loaded.search(q, 10), index.search(q, 10), q);
  for (const d of DOCS) assert.equal(loaded.ordinalOf(d.id), index.ordinalOf(d.id), d.id);
  assert.equal(decodeBm25("v1.bin", v1).info.version, 1);

  // Saving it again writes the current version; the content is unchanged.
  await saveBm25(dir, loaded);
  const rewritten = fs.readFileSync(path.join(dir, BM25_FILE_NAME));
  assert.equal(rewritten.subarray(0, 8).toString("latin1"), "COLTSARR");
  assert.equal(decodeBm25("v2.bin", rewritten).info.version, FORMAT_VERSION);
  const again = await loadBm25(dir);
  for (const q of QUERIES) assert.deepEqual(again.search(q, 10), index.search(q, 10), q);

  // The version-1 checks still guard old files.
  const file = path.join(dir, BM25_FILE_NAME);
  const flipped = Buffer.from(v1);
  flipped[flipped.length - 20] = (flipped[flipped.length - 20] ?? 0) ^ 0xff;
  fs.writeFileSync(file, flipped);
  await refuses(() => loadBm25(dir), file, /checksum mismatch/);
  fs.writeFileSync(file, v1.subarray(0, v1.length - 10));
  await refuses(() => loadBm25(dir), file, /truncated: expected \d+ bytes, found \d+/);
});
