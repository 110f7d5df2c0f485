/**
 * Child process for the crash-safety test: builds an index (mode "build") or appends batches of
 * documents one commit after another (mode "add"), with tiny chunks so that many files are written.
 * The parent kills it with SIGKILL at random moments.
 */
import { arraySource } from "../../src/plaid/source.js";
import { addToIndex, buildIndex } from "../../src/plaid/writer.js";
import { syntheticDocs } from "./synthetic.js";

const [dir, mode, seedText] = process.argv.slice(2);
const seed = Number(seedText ?? "1");
const DIM = 16;

if (!dir || (mode !== "build" && mode !== "add")) {
  process.stderr.write("usage: crash-writer <dir> build|add <seed>\n");
  process.exit(2);
}
if (mode === "build") {
  await buildIndex(dir, arraySource(syntheticDocs(300, DIM, 5), 20), DIM, { chunkDocs: 25 });
} else {
  for (let round = 0; round < 50; round++) {
    await addToIndex(dir, arraySource(syntheticDocs(40, DIM, seed * 1000 + round, `s${seed}r${round}-`), 10), { chunkDocs: 10 });
  }
}
process.stdout.write("done\n");
