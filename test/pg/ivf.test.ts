/** The IVF lists of a PostgreSQL index in memory: pairs grouped by centroid, lists as a chunk, probe order (no server needed). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildIvf } from "../../src/plaid/chunk.js";
import { IvfPairs, listBytes, listOrdinals, MAX_IVF_ORDINAL } from "../../src/pg/ivf.js";
import { listsChunk, probedDocuments } from "../../src/pg/plaid-search.js";
import { Rng } from "../../src/util/rng.js";
import { isCode } from "../helpers/errors.js";

const row = (centroid: number, ordinals: number[]): { centroid: number; ordinals: Buffer } => ({ centroid, ordinals: listBytes(Uint32Array.from(ordinals)) });

test("IvfPairs: each document once per distinct centroid, grouped by centroid in the order recorded", () => {
  const pairs = new IvfPairs();
  pairs.add(7, [3, 1, 3, 3]);
  pairs.add(9, [1]);
  pairs.add(12, [0, 3]);
  assert.equal(pairs.size, 5);
  assert.deepEqual(
    pairs.lists().map((l) => [l.centroid, [...l.ordinals]]),
    [
      [0, [12]],
      [1, [7, 9]],
      [3, [7, 12]],
    ],
  );
  assert.throws(() => pairs.add(MAX_IVF_ORDINAL + 1, [0]), isCode("INPUT_INVALID"));
});

test("IvfPairs grows past its first buffer and agrees with the chunk files' buildIvf on random documents", () => {
  const rng = new Rng(5);
  const K = 37;
  const doclens = Uint32Array.from({ length: 900 }, () => 1 + Math.floor(rng.next() * 20));
  const codes = Int32Array.from({ length: doclens.reduce((a, b) => a + b, 0) }, () => Math.floor(rng.next() * K));
  const pairs = new IvfPairs();
  let v = 0;
  doclens.forEach((n, d) => {
    pairs.add(d, codes.subarray(v, v + n));
    v += n;
  });
  const want = buildIvf(codes, doclens, K);
  assert.ok(pairs.size > 4096, `${pairs.size} pairs`);
  const got = new Map(pairs.lists().map((l) => [l.centroid, [...l.ordinals]]));
  for (let c = 0; c < K; c++) {
    const list = [...want.ivfDocs.subarray(want.ivfOffsets[c], want.ivfOffsets[c + 1])];
    assert.deepEqual(got.get(c) ?? [], list, `centroid ${c}`);
  }
});

test("listOrdinals reads uint32 little-endian and refuses a ragged list", () => {
  assert.deepEqual([...listOrdinals(Buffer.from([1, 0, 0, 0, 0, 1, 0, 0]), 4, "here")], [1, 256]);
  assert.throws(() => listOrdinals(Buffer.from([1, 0, 0]), 4, "here"), isCode("INDEX_CORRUPT", /centroid 4/));
});

test("listsChunk: local documents are the listed ordinals ascending; one centroid's rows from several shards merge sorted; extra ordinals join without lists", () => {
  // Centroid 2 comes from two shards, out of order.
  const { chunk, ordinals } = listsChunk([row(2, [40, 8]), row(0, [5]), row(2, [11])], 4, "here", [99, 5]);
  assert.deepEqual([...ordinals], [5, 8, 11, 40, 99]);
  assert.deepEqual([...chunk.ivfOffsets], [0, 1, 1, 4, 4]);
  // Centroid 0: ordinal 5 (local 0); centroid 2: 8, 11, 40 (locals 1, 2, 3), ascending.
  assert.deepEqual([...chunk.ivfDocs], [0, 1, 2, 3]);
  assert.equal(chunk.doclens.length, 5);
  // The same rows in another order make the same chunk.
  const again = listsChunk([row(2, [11]), row(0, [5]), row(2, [8, 40])], 4, "here", [5, 99]);
  assert.deepEqual([...again.chunk.ivfDocs], [...chunk.ivfDocs]);
  assert.throws(() => listsChunk([row(4, [1])], 4, "here"), isCode("INDEX_CORRUPT", /centroid 4/));
});

/** listsChunk's result built the plain way: every distinct ordinal sorted, each centroid's locals sorted. */
function referenceChunk(rows: { centroid: number; ordinals: number[] }[], k: number, extra: number[]): { ordinals: number[]; offsets: number[]; docs: number[] } {
  const ordinals = [...new Set([...rows.flatMap((r) => r.ordinals), ...extra])].sort((a, b) => a - b);
  const offsets = [0];
  const docs: number[] = [];
  for (let c = 0; c < k; c++) {
    docs.push(...rows.filter((r) => r.centroid === c).flatMap((r) => r.ordinals.map((o) => ordinals.indexOf(o))).sort((a, b) => a - b));
    offsets.push(docs.length);
  }
  return { ordinals, offsets, docs };
}

test("listsChunk equals the plain construction on random rows: ordinals close together (a slot per value) and spread over 2^32 (sorted); shards' rows, unsorted lists, extras", () => {
  const rng = new Rng(17);
  for (const spread of [300, 2 ** 32 - 1]) {
    for (let trial = 0; trial < 20; trial++) {
      const k = 1 + rng.int(12);
      const pool = Array.from({ length: 1 + rng.int(60) }, () => rng.int(spread));
      const rows: { centroid: number; ordinals: number[] }[] = [];
      for (let c = 0; c < k; c++) {
        for (let shard = 0; shard < rng.int(3); shard++) {
          const list = [...new Set(Array.from({ length: rng.int(8) }, () => pool[rng.int(pool.length)] as number))];
          // Most lists ascending, as stored; some not.
          if (rng.next() < 0.8) list.sort((a, b) => a - b);
          rows.push({ centroid: c, ordinals: list });
        }
      }
      const extra = Array.from({ length: rng.int(4) }, () => rng.int(spread));
      const want = referenceChunk(rows, k, extra);
      const got = listsChunk(rows.map((r) => row(r.centroid, r.ordinals)), k, "here", extra);
      const what = `spread ${spread}, trial ${trial}`;
      assert.deepEqual([...got.ordinals], want.ordinals, what);
      assert.deepEqual([...got.chunk.ivfOffsets], want.offsets, what);
      assert.deepEqual([...got.chunk.ivfDocs], want.docs, what);
    }
  }
  assert.deepEqual([...listsChunk([], 3, "here").ordinals], []);
});

test("probedDocuments: probed cell by probed cell, each list ascending, each document once; -1 and unread cells ignored", () => {
  const { chunk } = listsChunk([row(0, [5, 9]), row(1, [2, 9]), row(3, [7])], 4, "here");
  // locals: 2 -> 0, 5 -> 1, 7 -> 2, 9 -> 3
  assert.deepEqual(probedDocuments(chunk, [1, -1, 0, 1, 2]), [0, 3, 1]);
  assert.deepEqual(probedDocuments(chunk, [3]), [2]);
  assert.deepEqual(probedDocuments(chunk, []), []);
});
