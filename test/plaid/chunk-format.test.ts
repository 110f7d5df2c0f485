/**
 * Chunk format version 2 (u16 codes and inverted lists where they fit) next to version 1 (i32 / u32),
 * which colts still reads: same hits and scores from an index whose chunks are rewritten as version 1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { CHUNK_KIND, makeChunk, narrowCodes, readChunk, writeChunk, type Chunk } from "../../src/plaid/chunk.js";
import { INDEX_FORMAT_VERSION } from "../../src/plaid/manifest.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { arraySource } from "../../src/plaid/source.js";
import { readManifest } from "../../src/plaid/validate.js";
import { addToIndex, buildIndex } from "../../src/plaid/writer.js";
import { writeArrays } from "../../src/store/arrays.js";
import { syntheticDocs } from "../helpers/synthetic.js";
import { tempDir } from "../helpers/paths.js";

const dim = 16;
const docs = syntheticDocs(300, dim, 21);

/** Writes a chunk as colts wrote it before version 2: every code i32, every inverted list entry u32. */
function writeChunkV1(file: string, c: Chunk): void {
  writeArrays(file, CHUNK_KIND, 1, {
    ordinals: c.ordinals,
    doclens: c.doclens,
    codes: Int32Array.from(c.codes),
    residuals: c.residuals,
    ivfOffsets: c.ivfOffsets,
    ivfDocs: Uint32Array.from(c.ivfDocs),
  });
}

test("narrowCodes by hand: u16 up to 65,536 centroids, i32 beyond; values kept", () => {
  const codes = Int32Array.from([0, 7, 65535]);
  const narrow = narrowCodes(codes, 65_536);
  assert.ok(narrow instanceof Uint16Array);
  assert.deepEqual([...narrow], [0, 7, 65535]);
  const wide = narrowCodes(Uint16Array.from([1, 2]), 65_537);
  assert.ok(wide instanceof Int32Array);
  assert.deepEqual([...wide], [1, 2]);
  // Inverted lists: u16 local documents up to 65,536 documents in a chunk.
  const c = makeChunk(Uint32Array.from([0, 1]), Uint32Array.from([2, 1]), Int32Array.from([3, 1, 3]), new Uint8Array(3 * 4), 4);
  assert.ok(c.ivfDocs instanceof Uint16Array);
  assert.deepEqual([...c.ivfOffsets], [0, 0, 1, 1, 3]);
  assert.deepEqual([...c.ivfDocs], [0, 0, 1]);
});

test("a version-1 index reads as before: same hits and scores; an add upgrades it to the current version", async (t) => {
  const dir = path.join(tempDir(t), "idx");
  await buildIndex(dir, arraySource(docs, 100), dim, { chunkDocs: 120, bm25: false });
  const m = readManifest(dir);
  assert.equal(m.version, INDEX_FORMAT_VERSION);
  const search = async (): Promise<string> => {
    const index = await PlaidIndex.open(dir);
    try {
      const out = [];
      for (const d of docs.slice(0, 20)) out.push(await index.search({ vectors: d.vectors, tokens: d.n, dim }, { k: 5 }));
      return JSON.stringify(out);
    } finally {
      await index.close();
    }
  };
  const v2 = await search();
  const bpv = (m.dim * m.nbits) / 8;
  let narrowBytes = 0;
  let wideBytes = 0;
  for (const entry of m.chunks) {
    const file = path.join(dir, entry.file);
    const c = readChunk(file, m.numCentroids, bpv);
    assert.ok(c.codes instanceof Uint16Array && c.ivfDocs instanceof Uint16Array, "written narrow");
    narrowBytes += fs.statSync(file).size;
    writeChunkV1(file, c);
    wideBytes += fs.statSync(file).size;
    const back = readChunk(file, m.numCentroids, bpv);
    assert.ok(back.codes instanceof Int32Array && back.ivfDocs instanceof Uint32Array, "version 1 read as stored");
  }
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ ...m, version: 1 }));
  assert.equal(await search(), v2);
  // Two bytes saved per vector on codes, two per inverted-list entry.
  const vectors = m.chunks.reduce((a, c) => a + c.vectors, 0);
  assert.ok(wideBytes - narrowBytes >= 2 * vectors, `${wideBytes} - ${narrowBytes} bytes for ${vectors} vectors`);
  await addToIndex(dir, arraySource(syntheticDocs(10, dim, 22, "new"), 10));
  assert.equal(readManifest(dir).version, INDEX_FORMAT_VERSION);
});

test("a version-1 chunk holding u16 arrays is refused (only version 2 may narrow them)", (t) => {
  const file = path.join(tempDir(t), "chunk.bin");
  const c = makeChunk(Uint32Array.from([0]), Uint32Array.from([2]), Int32Array.from([1, 2]), new Uint8Array(2 * 4), 4);
  writeArrays(file, CHUNK_KIND, 1, { ordinals: c.ordinals, doclens: c.doclens, codes: c.codes, residuals: c.residuals, ivfOffsets: c.ivfOffsets, ivfDocs: c.ivfDocs });
  assert.throws(() => readChunk(file, 4, 4), { code: "INDEX_CORRUPT", message: /mistyped array "codes"/ });
  writeChunk(file, c);
  assert.deepEqual([...readChunk(file, 4, 4).codes], [1, 2]);
});
