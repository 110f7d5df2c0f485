/**
 * Converts a JSQuAD (SQuAD-format) file into a BEIR folder for `colts index build` / `colts eval`:
 * corpus.jsonl (one document per paragraph, title split off), queries.jsonl, qrels/<split>.tsv
 * (each question -> its paragraph). Checks the counts against ../shared/datasets/jsquad-ja/README.txt.
 *
 *   node dist/bench/tools/jsquad-to-beir.js [valid|test] <outDir>
 *
 * Exit status: 0 converted and checks pass, 1 a check failed or the data is missing, 2 usage.
 */
import fs from "node:fs";
import path from "node:path";
import { writeBeir } from "../../src/eval/io.js";
import { parseSquadRetrieval } from "../../src/eval/squad.js";
import { REPO_ROOT } from "./paths.js";

/** Sizes stated by the dataset's README.txt. */
const EXPECTED = { valid: { paragraphs: 1145, questions: 4442 }, test: { paragraphs: 1159, questions: 4420 } } as const;

export async function jsquadToBeir(split: "valid" | "test", out: string): Promise<boolean> {
  const file = path.join(REPO_ROOT, "..", "shared", "datasets", "jsquad-ja", `${split}-v1.3.json`);
  if (!fs.existsSync(file)) {
    console.error(`missing ${file}`);
    return false;
  }
  const set = parseSquadRetrieval(fs.readFileSync(file, "utf8"), file);
  await writeBeir(out, split, { corpus: set.corpus, queries: set.queries, qrels: set.qrels });
  const want = EXPECTED[split];
  const ok = set.corpus.length === want.paragraphs && set.queries.length === want.questions;
  console.log(`${split}: ${set.corpus.length} paragraphs (README ${want.paragraphs}), ${set.queries.length} questions (README ${want.questions}) -> ${out}${ok ? "" : "  MISMATCH"}`);
  return ok;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [split, out] = process.argv.slice(2);
  if ((split !== "valid" && split !== "test") || !out) {
    console.error("usage: jsquad-to-beir.js valid|test <outDir>");
    process.exit(2);
  }
  process.exit((await jsquadToBeir(split, out)) ? 0 : 1);
}
