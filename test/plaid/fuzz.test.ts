/**
 * Fuzzing the index reader: a few hundred seeded cases of truncated files, flipped bits and crafted
 * manifests, each opened and searched (PLAID, exact, filtered, BM25). Every case must end in a coded
 * error (INDEX_CORRUPT or INDEX_VERSION) or in the same results as the undamaged index, never in
 * another error, a hang, or a file access outside the index folder. Damage to the metadata
 * database, which has no checksum, may change what is stored there, so its cases need only a coded
 * error or well-formed results.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { isColtsError } from "../../src/errors.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { buildIndex, deleteFromIndex } from "../../src/plaid/writer.js";
import { Rng } from "../../src/util/rng.js";
import { suiteDir } from "../helpers/paths.js";
import { syntheticDocs } from "../helpers/synthetic.js";

const dim = 16;
const docs: EmbeddedDoc[] = syntheticDocs(60, dim, 9).map((d, i) => ({ ...d, text: `document ${i} on topic ${i % 5}` }));
const CODED = new Set(["INDEX_CORRUPT", "INDEX_VERSION"]);

/** Everything a reader answers for the fixed queries, as plain data. */
async function answers(dir: string): Promise<unknown> {
  const index = await PlaidIndex.open(dir);
  try {
    const q = { vectors: docs[4]!.vectors, tokens: docs[4]!.n, dim };
    const out: Record<string, unknown> = {};
    out["plaid"] = await index.search(q, { k: 5 });
    out["exact"] = await index.search(q, { k: 5, exact: true });
    out["filtered"] = await index.search(q, { k: 5, filter: "group = 1" });
    for (const key of ["plaid", "exact", "filtered"]) {
      for (const h of out[key] as { id: unknown; score: number; ordinal: number }[]) {
        assert.equal(typeof h.id, "string");
        assert.ok(Number.isFinite(h.score), `score ${h.score}`);
        assert.ok(Number.isInteger(h.ordinal) && h.ordinal >= 0 && h.ordinal < index.manifest.numDocs, `ordinal ${h.ordinal}`);
      }
    }
    try {
      out["bm25"] = (await index.keywordIndex()).search("topic 3", 5);
    } catch (e) {
      // An index without a BM25 file says so; that is a correct answer when its manifest names none.
      if (!(isColtsError(e, "INDEX_NOT_FOUND") && !index.manifest.bm25File)) throw e;
      out["bm25"] = "none";
    }
    return out;
  } finally {
    await index.close();
  }
}

/** Records every path the reader passes to node:fs, to prove it stays inside the index folder. */
function watchFs(): { paths: string[]; stop(): void } {
  const paths: string[] = [];
  const undo: (() => void)[] = [];
  const wrap = (obj: Record<string, unknown>, names: string[]): void => {
    for (const n of names) {
      const orig = obj[n] as (...a: unknown[]) => unknown;
      obj[n] = function (this: unknown, p: unknown, ...rest: unknown[]) {
        if (typeof p === "string" || p instanceof URL || Buffer.isBuffer(p)) paths.push(path.resolve(String(p)));
        return orig.call(this, p, ...rest);
      };
      undo.push(() => (obj[n] = orig));
    }
  };
  wrap(fs, ["readFileSync", "openSync", "lstatSync", "statSync", "existsSync", "writeFileSync", "readdirSync", "rmSync", "renameSync", "linkSync"]);
  wrap(fsp, ["readFile", "open", "stat"]);
  syncBuiltinESMExports();
  return {
    paths,
    stop() {
      for (const u of undo) u();
      syncBuiltinESMExports();
    },
  };
}

describe("index reader fuzz", () => {
  const root = suiteDir();
  const base = path.join(root, "base");
  const dir = path.join(root, "case");
  const outside = path.join(root, "outside");
  let baseline: unknown;
  let files: string[] = [];
  before(async () => {
    await buildIndex(base, arraySource(docs, 20), dim, { nbits: 2, chunkDocs: 25, numCentroids: 16 });
    await deleteFromIndex(base, ["d3", "d30", "d59"]);
    files = fs.readdirSync(base).sort();
    baseline = await answers(base);
    // Files a crafted manifest may point at: they must never be read.
    fs.mkdirSync(outside);
    for (const f of files) fs.copyFileSync(path.join(base, f), path.join(outside, f));
  });

  test("truncations, bit flips and crafted manifests: a coded error or the right answer", { timeout: 120_000 }, async () => {
    const rng = new Rng(20240601);
    const manifest = JSON.parse(fs.readFileSync(path.join(base, "manifest.json"), "utf8")) as Record<string, unknown>;
    const names = files.filter((f) => f !== "manifest.json");
    const pool: unknown[] = [null, -1, 0, 1, 2, 1.5, 2 ** 31, 4e9, Number.MAX_SAFE_INTEGER, "", "x", ".", "..", "../outside/manifest.json", `../outside/${names[0]}`, path.join(outside, names[1]!), [], {}, true, ...names];
    const pick = <T>(a: readonly T[]): T => a[rng.int(a.length)] as T;
    /** One or two random edits of the manifest: a field set to a value from the pool, removed, or the chunk list reshaped. */
    const craft = (): string => {
      const m = structuredClone(manifest) as Record<string, unknown> & { chunks: Record<string, unknown>[]; drift: Record<string, unknown> };
      for (let edits = 1 + rng.int(2); edits > 0; edits--) {
        const r = rng.int(10);
        if (r < 5) m[pick(Object.keys(m))] = pick(pool);
        else if (r < 7 && m.chunks.length > 0) pick(m.chunks)[pick(["file", "docs", "vectors"])] = pick(pool);
        else if (r === 7) delete m[pick(Object.keys(m))];
        else if (r === 8 && Array.isArray(m.chunks) && m.chunks.length > 0) {
          const c = pick(m.chunks);
          m.chunks = rng.int(2) === 0 ? [...m.chunks, c] : m.chunks.filter((x) => x !== c);
        } else if (typeof m.drift === "object" && m.drift !== null) m.drift[pick(["trainedAvgResidual", "lastAddAvgResidual"])] = pick(pool);
      }
      return JSON.stringify(m);
    };

    const counts = { coded: 0, same: 0, wellFormed: 0 };
    const strays: string[] = [];
    const outsideCase = (p: string): boolean => p.startsWith(root + path.sep) && !p.startsWith(dir + path.sep) && p !== dir;
    const watch = watchFs();
    try {
      for (let i = 0; i < 360; i++) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.cpSync(base, dir, { recursive: true });
        const kind = i % 3;
        const file = kind === 2 ? "manifest.json" : pick(files);
        const target = path.join(dir, file);
        const bytes = fs.readFileSync(target);
        let what: string;
        if (kind === 0) {
          const n = rng.int(bytes.length);
          fs.writeFileSync(target, bytes.subarray(0, n));
          what = `${file} truncated to ${n} of ${bytes.length} bytes`;
        } else if (kind === 1) {
          const at = rng.int(bytes.length);
          const bit = 1 << rng.int(8);
          bytes[at] = (bytes[at] as number) ^ bit;
          fs.writeFileSync(target, bytes);
          what = `${file} byte ${at} ^ ${bit}`;
        } else {
          const text = craft();
          fs.writeFileSync(target, text);
          what = `manifest ${text}`;
        }
        let result: unknown;
        watch.paths.length = 0; // only the reader's accesses count, not this loop's own copying
        try {
          result = await answers(dir);
        } catch (e) {
          assert.ok(isColtsError(e) && CODED.has(e.code), `case ${i} (${what}): ${e instanceof Error ? e.stack : String(e)}`);
          counts.coded++;
          strays.push(...watch.paths.filter(outsideCase));
          continue;
        }
        strays.push(...watch.paths.filter(outsideCase));
        if (file.endsWith(".sqlite")) counts.wellFormed++;
        else {
          // A manifest without bm25File describes an index built without texts: "none" is its answer.
          const expected = (result as { bm25: unknown }).bm25 === "none" ? { ...(baseline as object), bm25: "none" } : baseline;
          assert.deepEqual(result, expected, `case ${i} (${what}) opened but answered differently`);
          counts.same++;
        }
      }
    } finally {
      watch.stop();
    }
    assert.deepEqual(strays, [], "the reader touched files outside the index folder");
    for (const f of files) assert.deepEqual(fs.readFileSync(path.join(outside, f)), fs.readFileSync(path.join(base, f)), f);
    // The cases exercise both outcomes: most damage is refused, some (unchecked fields, metadata text) opens.
    assert.ok(counts.coded > 200, JSON.stringify(counts));
    assert.ok(counts.same + counts.wellFormed > 10, JSON.stringify(counts));
  });
});
