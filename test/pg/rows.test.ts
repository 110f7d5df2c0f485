/** Row layouts, storability checks, the top-k merge and the error mapping of the PostgreSQL location (no server needed). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ColtsError } from "../../src/errors.js";
import { dbError } from "../../src/pg/connection.js";
import { mergeTop } from "../../src/pg/pg-index.js";
import { bytesOf, checkStorable, rowsToChunk, type VectorRow } from "../../src/pg/rows.js";
import { parsePgUrl } from "../../src/pg/url.js";
import { postgresBinDir } from "../helpers/postgres.js";

const row = (ordinal: number, codes: number[], residualBytes: number[]): VectorRow => ({
  ordinal: String(ordinal),
  doclen: codes.length,
  codes: bytesOf(Int32Array.from(codes)),
  residuals: Buffer.from(residualBytes),
});

test("rowsToChunk: rows become one chunk with local ordinals, offsets and the rows' bytes in order", () => {
  // bytesPerVector 2: doc 7 has 2 vectors, doc 9 has 1.
  const { chunk, ordinals } = rowsToChunk([row(7, [3, 1], [10, 11, 12, 13]), row(9, [2], [20, 21])], 2, "here");
  assert.deepEqual(ordinals, [7, 9]);
  assert.deepEqual([...chunk.ordinals], [0, 1]);
  assert.deepEqual([...chunk.doclens], [2, 1]);
  assert.deepEqual([...chunk.offsets], [0, 2, 3]);
  assert.deepEqual([...chunk.codes], [3, 1, 2]);
  assert.deepEqual([...chunk.residuals], [10, 11, 12, 13, 20, 21]);
});

test("rowsToChunk: byte lengths that do not match the doclen are INDEX_CORRUPT", () => {
  assert.throws(() => rowsToChunk([row(1, [3, 1], [10, 11, 12])], 2, "here"), (e: unknown) => e instanceof ColtsError && e.code === "INDEX_CORRUPT" && /ordinal 1/.test(e.message));
  const bad = { ...row(2, [3], [1, 2]), doclen: 2 };
  assert.throws(() => rowsToChunk([bad], 2, "here"), /INDEX_CORRUPT|do not match/);
});

test("checkStorable refuses NUL and unpaired surrogates in text, metadata values and keys, and accepts the rest", () => {
  const doc = { id: "x", vectors: new Float32Array(0), n: 0 };
  for (const bad of [{ text: "a\u0000" }, { metadata: { a: { b: ["ok", "\udc00"] } } }, { metadata: { "k\u0000": 1 } }, { text: "\ud83d" }]) {
    assert.throws(() => checkStorable({ ...doc, ...bad }), (e: unknown) => e instanceof ColtsError && e.code === "INPUT_INVALID" && e.message.includes('"x"'));
  }
  checkStorable({ ...doc, text: "emoji 😀 é", metadata: { "😀": ["a", { b: "\uE000" }], n: 1 } });
});

test("mergeTop keeps the k best by score, ties by lower ordinal", () => {
  const a = [
    { ordinal: 5, score: 2 },
    { ordinal: 1, score: 1 },
  ];
  const b = [
    { ordinal: 3, score: 2 },
    { ordinal: 0, score: 0.5 },
  ];
  assert.deepEqual(mergeTop(a, b, 3), [
    { ordinal: 3, score: 2 },
    { ordinal: 5, score: 2 },
    { ordinal: 1, score: 1 },
  ]);
});

test("dbError: connection failures, timeouts and statement errors get their codes, with the redacted location", () => {
  const loc = parsePgUrl("postgres://u:hunter2@h/d?statement_timeout=50", {});
  const cases: [unknown, string][] = [
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "DATABASE_UNAVAILABLE"],
    [Object.assign(new Error('password authentication failed for user "u"'), { code: "28P01" }), "DATABASE_UNAVAILABLE"],
    [new Error("Connection terminated due to connection timeout"), "DATABASE_UNAVAILABLE"],
    [Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014" }), "TIMEOUT"],
    [Object.assign(new Error("permission denied for table x"), { code: "42501" }), "DATABASE_ERROR"],
  ];
  for (const [cause, code] of cases) {
    const e = dbError(loc, "read", cause);
    assert.equal(e.code, code, String(cause));
    assert.ok(e.message.includes("postgres://u:***@h/d") && !e.message.includes("hunter2"), e.message);
  }
  const own = new ColtsError("INDEX_BUSY", "busy");
  assert.equal(dbError(loc, "x", own), own);
});

test("the test helper names the install script when PostgreSQL's binaries are missing", () => {
  const saved = process.env["COLTS_PG_BIN"];
  process.env["COLTS_PG_BIN"] = "/nonexistent/pg/bin";
  try {
    assert.throws(() => postgresBinDir(), /scripts\/install-postgres\.sh/);
  } finally {
    if (saved === undefined) delete process.env["COLTS_PG_BIN"];
    else process.env["COLTS_PG_BIN"] = saved;
  }
});
