/**
 * BM25 on JSQuAD (question -> its paragraph) with each built-in analyser: english (Lucene
 * StandardTokenizer: one term per Han/Hiragana character), cjk (bigrams, no dictionary) and
 * japanese (MeCab + UniDic, the JaColBERT word splitter). Recall@10, nDCG@10, Recall@100.
 *
 *   npm run build && COLTS_MECAB_DICDIR=/var/lib/mecab/dic/unidic node dist/bench/jsquad-bm25.js [valid|test]
 *
 * Needs ../shared/datasets/jsquad-ja (prints SKIP otherwise); the japanese row needs a compiled MeCab
 * dictionary (skipped with a note otherwise).
 */
import fs from "node:fs";
import path from "node:path";
import { builtInAnalyzer, ANALYZER_NAMES } from "../src/bm25/analyzers.js";
import { Bm25Index } from "../src/bm25/bm25-index.js";
import { evaluate } from "../src/eval/metrics.js";
import { parseSquadRetrieval } from "../src/eval/squad.js";
import type { Run } from "../src/eval/types.js";
import { isColtsError } from "../src/errors.js";
import { REPO_ROOT } from "./tools/paths.js";

const split = process.argv[2] === "test" ? "test" : "valid";
const file = path.join(REPO_ROOT, "..", "shared", "datasets", "jsquad-ja", `${split}-v1.3.json`);
if (!fs.existsSync(file)) {
  console.log(`SKIP: ${file} is absent`);
  process.exit(0);
}
const set = parseSquadRetrieval(fs.readFileSync(file, "utf8"), file);
console.log(`JSQuAD ${split}: ${set.corpus.length} paragraphs, ${set.queries.length} questions`);
const metrics = ["recall@10", "ndcg@10", "recall@100"];
console.log(["analyser", ...metrics, "index s", "ms/query"].join("\t"));
for (const name of ANALYZER_NAMES) {
  let analyzer;
  try {
    analyzer = builtInAnalyzer(name);
  } catch (e) {
    if (isColtsError(e, "MECAB_DICTIONARY_MISSING")) {
      console.log(`${name}\t(no MeCab dictionary: set COLTS_MECAB_DICDIR)`);
      continue;
    }
    throw e;
  }
  const t0 = performance.now();
  const bm25 = new Bm25Index({ analyzer });
  // Title + text, as colts index build indexes BEIR documents.
  bm25.add(set.corpus.map((d) => ({ id: d.id, text: d.title ? `${d.title} ${d.text}` : d.text })));
  const t1 = performance.now();
  const run: Run = new Map();
  for (const q of set.queries) run.set(q.id, bm25.search(q.text, 100).map((h) => ({ docid: h.id, score: h.score })));
  const t2 = performance.now();
  const e = evaluate(run, set.qrels, metrics, { averageComplete: true });
  console.log([name, ...metrics.map((m) => (e.mean[m] ?? 0).toFixed(4)), ((t1 - t0) / 1000).toFixed(2), ((t2 - t1) / set.queries.length).toFixed(2)].join("\t"));
}
