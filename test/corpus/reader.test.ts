/** The corpus reader's rules, one small hand-checkable case each, read from files and streams. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { checkCorpus, corpusFile, documentText, parseCorpusLine, parseCorpusText, readCorpus, readCorpusRecords, type CorpusOptions, type CorpusRecord } from "../../src/corpus/reader.js";
import { isColtsError } from "../../src/errors.js";
import { readBeirCorpus } from "../../src/eval/io.js";
import { tempDir, type Cleanup } from "../helpers/paths.js";

function write(t: Cleanup, name: string, content: string | Buffer): string {
  const file = path.join(tempDir(t), name);
  fs.writeFileSync(file, content);
  return file;
}

async function read(source: string | Readable, opts: CorpusOptions = {}): Promise<CorpusRecord[]> {
  const out: CorpusRecord[] = [];
  for await (const r of readCorpusRecords(source, opts)) out.push(r);
  return out;
}

/** Resolves when reading fails with INPUT_INVALID whose message (after "colts: ") starts `prefix` and matches `why`. */
async function fails(source: string | Readable, opts: CorpusOptions, prefix: string, why: RegExp): Promise<void> {
  await assert.rejects(read(source, opts), (e) => {
    assert.ok(isColtsError(e, "INPUT_INVALID"), String(e));
    assert.ok(e.message.startsWith(`colts: ${prefix}`), `"${e.message}" starts with colts: ${prefix}`);
    assert.match(e.message, why);
    return true;
  });
}

const ids = (rs: CorpusRecord[]): string[] => rs.map((r) => r.id);

test("a BEIR line: _id, title, text, metadata; blank lines skipped but counted for line numbers", async (t) => {
  const file = write(t, "c.jsonl", '{"_id":"d1","title":"T","text":"x","metadata":{"y":1}}\n\n   \n{"_id":"d2","text":"z"}\n');
  const rs = await read(file);
  assert.deepEqual(rs, [
    { id: "d1", title: "T", text: "x", metadata: { y: 1 }, fields: null, line: 1 },
    { id: "d2", title: "", text: "z", fields: null, line: 4 },
  ]);
});

test("the id: _id, else id; _id wins when a line has both; a custom idField is read alone", async (t) => {
  const file = write(t, "c.jsonl", '{"_id":"a","text":"1"}\n{"id":"b","text":"2"}\n{"_id":"c","id":"zzz","text":"3"}\n');
  assert.deepEqual(ids(await read(file)), ["a", "b", "c"]);
  const custom = write(t, "k.jsonl", '{"key":"k1","_id":"ignored","text":"1"}\n');
  assert.deepEqual(ids(await read(custom, { idField: "key" })), ["k1"]);
  await fails(write(t, "m.jsonl", '{"_id":"ignored","text":"1"}\n'), { idField: "key" }, "", /:1: expected "key" to be a string or an integer, found none$/);
});

test("number ids: integers read with String(); 1.5, unsafe integers, booleans and empty strings refused", async (t) => {
  const file = write(t, "n.jsonl", '{"_id":7,"text":"a"}\n{"id":-3,"text":"b"}\n{"_id":1000,"text":"c"}\n');
  assert.deepEqual(ids(await read(file)), ["7", "-3", "1000"]);
  const f = path.join(tempDir(t), "bad.jsonl");
  const cases: [string, RegExp][] = [
    ['{"_id":1.5,"text":"a"}', /"_id" is the number 1\.5: a number id must be an integer below 2\^53/],
    ['{"_id":12345678901234567890,"text":"a"}', /a number id must be an integer below 2\^53/],
    ['{"_id":true,"text":"a"}', /expected "_id" to be a string or an integer, found boolean true/],
    ['{"_id":"","text":"a"}', /"_id" is empty/],
    ['{"id":"","text":"a"}', /"id" is empty/],
    ['{"text":"a"}', /expected "_id" to be a string or an integer, found none \("id" is read when "_id" is absent\)/],
  ];
  for (const [line, why] of cases) {
    fs.writeFileSync(f, `{"_id":"ok","text":"fine"}\n${line}\n`);
    await fails(f, {}, `${f}:2: `, why);
  }
});

test("a number id must be written as an integer: 1.0, 1e3 and -0 are refused (they would silently become 1, 1000, 0)", async (t) => {
  for (const [written, as] of [["1.0", "1"], ["1e3", "1000"], ["-0", "0"], ["2.50e1", "25"]] as const) {
    const file = write(t, "n.jsonl", `{"_id":"a","text":"x"}\n{"_id":${written},"text":"c"}\n`);
    await fails(file, {}, `${file}:2: `, new RegExp(`"_id" is written ${written.replace(/[.+]/g, "\\$&")}: a number id must be written as an integer \\(${as}\\), or as a string \\("${written.replace(/[.+]/g, "\\$&")}"\\)`));
  }
  // Written as strings, "1" and "1.0" are two ids; written as an integer, 7 is the id "7".
  const ok = write(t, "ok.jsonl", '{"_id":"1","text":"a"}\n{"_id":"1.0","text":"b"}\n{"id": 7,"text":"c"}\n{"_id":-3,"text":"d","metadata":{"_id":1.5}}\n');
  assert.deepEqual(ids(await read(ok)), ["1", "1.0", "7", "-3"]);
  // A string "1" and a number 1 are the same id, refused as a duplicate naming both lines.
  const mixed = write(t, "m.jsonl", '{"_id":"1","text":"a"}\n{"id":1,"text":"b"}\n');
  await fails(mixed, {}, `${mixed}:2: `, /duplicate id "1" \(first at .*m\.jsonl:1\); the number 1 and the string "1" are the same id/);
});

test("picked metadata values are checked with their line: 1e400 (Infinity) and nesting beyond 100 are refused", async (t) => {
  const big = write(t, "b.jsonl", '{"_id":"a","text":"x","year":1}\n\n{"_id":"b","text":"y","metadata":{"year":1e400}}\n');
  await fails(big, { metadataFields: ["year"] }, `${big}:3: `, /metadata "year" is a number beyond the range of a double \(read as Infinity\); write it as a string/);
  // Not picked: not stored, not checked.
  assert.deepEqual(ids(await read(big)), ["a", "b"]);
  const nested = write(t, "d.jsonl", `{"_id":"a","text":"x","tags":[{"w":-1e999}]}\n`);
  await fails(nested, { metadataFields: ["tags"] }, `${nested}:1: `, /metadata "tags\[0\]\.w" is a number beyond the range of a double \(read as -Infinity\)/);
  const deep = write(t, "deep.jsonl", `{"_id":"a","text":"x","m":${"[".repeat(102)}${"]".repeat(102)}}\n`);
  await fails(deep, { metadataFields: ["m"] }, `${deep}:1: `, /metadata "m(\[0\])+" is nested more than 100 deep/);
});

test("duplicate ids are refused with the file:line of both occurrences; checkDuplicates: false lets them through", async (t) => {
  const file = write(t, "d.jsonl", '{"_id":"a","text":"1"}\n{"_id":"b","text":"2"}\n\n{"_id":"a","text":"3"}\n');
  await assert.rejects(read(file), (e) => isColtsError(e) && e.message === `colts: ${file}:4: duplicate _id "a" (first at ${file}:1)`);
  assert.deepEqual(ids(await read(file, { checkDuplicates: false })), ["a", "b", "a"]);
  // The in-memory parser applies the same rule.
  assert.throws(
    () => parseCorpusText('{"_id":"a","text":"1"}\n{"_id":"a","text":"2"}\n', "mem.jsonl"),
    (e) => isColtsError(e, "INPUT_INVALID") && e.message === 'colts: mem.jsonl:2: duplicate _id "a" (first at mem.jsonl:1)',
  );
});

test("a UTF-8 byte-order mark on line 1 is dropped (file, stream and in-memory text); CRLF line ends are read", async (t) => {
  const text = '\uFEFF{"_id":"a","text":"x"}\r\n{"_id":"b","text":"y"}\r\n';
  const file = write(t, "bom.jsonl", text);
  const expected = [
    { id: "a", text: "x", line: 1 },
    { id: "b", text: "y", line: 2 },
  ];
  const pick = (rs: CorpusRecord[]): object[] => rs.map((r) => ({ id: r.id, text: r.text, line: r.line }));
  assert.deepEqual(pick(await read(file)), expected);
  assert.deepEqual(pick(parseCorpusText(text, "mem")), expected);
  // A stream that hands over one byte at a time: the mark (3 bytes) and line ends are split across chunks.
  const bytes = Buffer.from(text, "utf8");
  const oneByOne = Readable.from((function* () {
    for (const b of bytes) yield Buffer.from([b]);
  })());
  assert.deepEqual(pick(await read(oneByOne, { name: "<stdin>" })), expected);
});

test("gzip: a .gz file and a gzipped stream are decompressed; corrupt gzip data names file and line", async (t) => {
  const text = '{"_id":"a","text":"x"}\n{"_id":"b","title":"T","text":"y"}\n';
  const gz = write(t, "c.jsonl.gz", zlib.gzipSync(text));
  assert.deepEqual(ids(await read(gz)), ["a", "b"]);
  assert.deepEqual(ids(await read(Readable.from([zlib.gzipSync(text)]))), ["a", "b"]);
  const full = zlib.gzipSync(text);
  const truncated = write(t, "cut.jsonl.gz", full.subarray(0, full.length - 12));
  await fails(truncated, {}, `${truncated}:`, /corrupt gzip data/);
  // A BEIR folder holding only corpus.jsonl.gz is found by corpusFile; corpus.jsonl is preferred.
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "corpus.jsonl.gz"), full);
  assert.equal(corpusFile(dir), path.join(dir, "corpus.jsonl.gz"));
  fs.writeFileSync(path.join(dir, "corpus.jsonl"), text);
  assert.equal(corpusFile(dir), path.join(dir, "corpus.jsonl"));
});

test("plain-text lines: numbered documents where asked (encode), refused elsewhere", async (t) => {
  const text = '{"id":"d1","text":"first"}\n\nsecond, plain\n{"_id":7,"title":"T","text":"body"}\n{"text":"no id"}\n';
  const file = write(t, "mixed.txt", text);
  const rs = await read(file, { plainText: true });
  assert.deepEqual(
    rs.map((r) => [r.id, documentText(r.title, r.text), r.line]),
    [
      ["d1", "first", 1],
      ["1", "second, plain", 3],
      ["7", "T body", 4],
      ["3", "no id", 5],
    ],
  );
  await fails(file, {}, `${file}:3: `, /expected a JSON object, found a line of plain text \(plain-text lines are not accepted here\)$/);
  // A numbered line that takes an id already used is a duplicate like any other.
  const clash = write(t, "clash.txt", '{"id":"1","text":"a"}\nplain\n');
  await fails(clash, { plainText: true }, `${clash}:2: `, /duplicate id "1" \(first at .*clash\.txt:1\)/);
});

test("bad JSON, non-objects, and wrong field types are refused with file:line", async (t) => {
  const f = path.join(tempDir(t), "bad.jsonl");
  const cases: [string, RegExp][] = [
    ['{"_id":"d2", text}', /invalid JSON \(/],
    ["[1]", /expected a JSON object, found an array/],
    ["42", /expected a JSON object, found number 42$/],
    ['{"_id":"d2","text":7}', /expected "text" to be a string, found number 7/],
    ['{"_id":"d2"}', /expected "text" to be a string, found none/],
    ['{"_id":"d2","title":["x"],"text":"t"}', /expected "title" to be a string, found an array/],
    ['{"_id":"d2","text":"t","metadata":"m"}', /expected "metadata" to be an object, found string "m"/],
  ];
  for (const [line, why] of cases) {
    fs.writeFileSync(f, `{"_id":"d1","text":"ok"}\n\n${line}\n`);
    await fails(f, {}, `${f}:3: `, why);
  }
  // A null title or metadata is the same as none.
  const nulls = parseCorpusLine('{"_id":"d","title":null,"text":"t","metadata":null}', "n.jsonl", 1);
  assert.deepEqual(nulls, { id: "d", title: "", text: "t", fields: null, line: 1 });
  await fails(path.join(tempDir(t), "missing.jsonl"), {}, "cannot read ", /missing\.jsonl: no such file$/);
});

test("custom fields and metadata picks; readCorpus joins title and text as documentText does", async (t) => {
  const file = write(t, "f.jsonl", '{"_id":"a","title":"Paris","text":"capital","year":2001,"metadata":{"lang":"fr","year":1}}\n{"_id":"b","title":"  ","body":"x","text":"y"}\n');
  const docs: unknown[] = [];
  for await (const d of readCorpus(file, { metadataFields: ["year", "lang", "none"] })) docs.push(d);
  assert.deepEqual(docs, [
    { index: 0, doc: { id: "a", text: "Paris capital", metadata: { year: 2001, lang: "fr" } } },
    { index: 1, doc: { id: "b", text: "y", metadata: null } },
  ]);
  const custom = write(t, "c.jsonl", '{"key":"k","head":"H","body":"B","title":"ignored","text":"ignored"}\n');
  const picked: unknown[] = [];
  for await (const { doc } of readCorpus(custom, { idField: "key", titleField: "head", textField: "body" })) picked.push(doc);
  assert.deepEqual(picked, [{ id: "k", text: "H B", metadata: null }]);
  await assert.rejects(async () => {
    for await (const _ of readCorpus(file, { textField: "body" })) void _;
  }, /f\.jsonl:1: expected "body" to be a string, found none/);
});

test("checkCorpus counts documents and stops at the first bad line; eval's readBeirCorpus reads by the same rules", async (t) => {
  const good = write(t, "g.jsonl", '\uFEFF{"id":"a","text":"x"}\n\n{"_id":2,"text":"y"}\n');
  assert.equal((await checkCorpus(good)).count, 2);
  const beir: unknown[] = [];
  for await (const d of readBeirCorpus(good)) beir.push(d);
  assert.deepEqual(beir, [
    { id: "a", title: "", text: "x" },
    { id: "2", title: "", text: "y" },
  ]);
  const dup = write(t, "d.jsonl", '{"_id":"a","text":"x"}\n{"_id":"a","text":"y"}\n');
  await assert.rejects(checkCorpus(dup, { name: "<stdin>" }), (e) => isColtsError(e, "INPUT_INVALID") && e.message === 'colts: <stdin>:2: duplicate _id "a" (first at <stdin>:1)');
});
