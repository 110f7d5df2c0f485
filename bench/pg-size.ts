/**
 * Bytes per stored vector: a PostgreSQL index location against a folder index on the same documents.
 *
 *   scripts/pg-local.sh start            # prints a URL
 *   npx tsc -p . && node dist/bench/pg-size.js --url 'postgres://...' [--docs 1000] [--dim 128]
 *     [--tokens 100] [--nbits 2] [--centroids 1024]
 *
 * Documents: `tokens` +- 50% random unit vectors each (sizes do not depend on the values; the codec
 * is trained on them all the same). PostgreSQL sizes are pg_total_relation_size (heap, TOAST and
 * indexes) after the build; the folder's are its chunk files and its whole size on disk.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { PlaidIndex } from "../src/plaid/plaid-index.js";
import { arraySource, type EmbeddedDoc } from "../src/plaid/source.js";
import { buildIndex } from "../src/plaid/writer.js";
import { PgIndex } from "../src/pg/pg-index.js";
import { redactUrl } from "../src/pg/url.js";
import { buildPgIndex } from "../src/pg/writer.js";
import { Rng } from "../src/util/rng.js";

const { values: a } = parseArgs({
  options: {
    url: { type: "string", default: process.env["COLTS_PG_URL"] },
    docs: { type: "string", default: "1000" },
    dim: { type: "string", default: "128" },
    tokens: { type: "string", default: "100" },
    nbits: { type: "string", default: "2" },
    centroids: { type: "string", default: "1024" },
  },
});
if (!a.url) throw new Error("give --url postgres://... (scripts/pg-local.sh start prints one) or set COLTS_PG_URL");
const dim = Number(a.dim);
const rng = new Rng(5);
const docs: EmbeddedDoc[] = Array.from({ length: Number(a.docs) }, (_, i) => {
  const n = Math.max(1, Math.round(Number(a.tokens) * (0.5 + rng.next())));
  const v = new Float32Array(n * dim);
  for (let t = 0; t < n; t++) {
    const row = rng.normalArray(dim, 1);
    const norm = Math.hypot(...row);
    for (let k = 0; k < dim; k++) v[t * dim + k] = (row[k] as number) / norm;
  }
  return { id: `doc-${i}`, vectors: v, n, metadata: { i, group: i % 7 }, text: `document ${i}` };
});
const opts = { nbits: Number(a.nbits) as 1 | 2 | 4, numCentroids: Number(a.centroids), bm25: false };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-pg-size-"));
try {
  await buildIndex(dir, arraySource(docs), dim, opts);
  await buildPgIndex(a.url, arraySource(docs), dim, { ...opts, overwrite: true });
  const disk = await PlaidIndex.open(dir);
  const db = await PgIndex.open(a.url);
  const d = disk.info();
  const p = await db.info();
  const all = Object.values(p.tableBytes).reduce((x, y) => x + y, 0);
  const raw = 4 + (dim * Number(a.nbits)) / 8;
  console.log(`${p.vectors} vectors, ${p.liveDocuments} documents, dim ${dim}, nbits ${a.nbits} (code + residual = ${raw} bytes), ${redactUrl(a.url)}`);
  console.log("| store | bytes / vector |");
  console.log("|---|---:|");
  console.log(`| folder: chunk files | ${d.bytesPerVector.toFixed(1)} |`);
  console.log(`| folder: whole index (codec, metadata.sqlite) | ${(d.sizeOnDisk / d.vectors).toFixed(1)} |`);
  console.log(`| PostgreSQL: vectors table (heap, TOAST, primary key) | ${p.bytesPerVector.toFixed(1)} |`);
  console.log(`| PostgreSQL: all tables (documents with metadata and text, codec) | ${(all / p.vectors).toFixed(1)} |`);
  console.log(`tables (bytes): ${JSON.stringify(p.tableBytes)}`);
  await Promise.all([disk.close(), db.close()]);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
