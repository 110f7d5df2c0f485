/**
 * Child process of the PostgreSQL kill test: appends batches of synthetic documents to the index at
 * a postgres:// URL, one `addToPgIndex` (one transaction) after another, with small INSERT
 * statements so that each add makes many round trips. The parent kills it with SIGKILL at random
 * moments and checks the tables after each kill.
 *
 *   node pg-crash-writer.js <url> <seed>     (documents "s<seed>r<round>-<i>", 40 per add, 30 adds)
 */
import { pathToFileURL } from "node:url";
import { arraySource } from "../../src/plaid/source.js";
import { addToPgIndex } from "../../src/pg/writer.js";
import { syntheticDocs } from "./synthetic.js";

/** Documents per add, and the dimension the parent built the index with. */
export const CRASH_BATCH = 40;
export const CRASH_DIM = 16;

const [url, seedText] = process.argv.slice(2);
// Only as the entry point: the test imports this file for the constants above.
if (url !== undefined && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seed = Number(seedText ?? "1");
  for (let round = 0; round < 30; round++) {
    const docs = syntheticDocs(CRASH_BATCH, CRASH_DIM, seed * 1000 + round, `s${seed}r${round}-`).map((d) => ({ ...d, text: `text of ${d.id}`, metadata: { round } }));
    await addToPgIndex(url, arraySource(docs, 10), { insertDocs: 5 });
  }
  process.stdout.write("done\n");
}
