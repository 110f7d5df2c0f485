/**
 * Agreement of colts' Japanese tokenizer with a MeCab + UniDic reference.
 *
 * Reference: test/fixtures/ja/mecab-unidic-splits.jsonl, word splits of 2,331 JSQuAD sentences made
 * once by bench/tools/jsquad-mecab-splits.py with Debian's `mecab` + `unidic-mecab` (UniDic 3.1.1).
 * colts: src/text/mecab.ts over a compiled MeCab dictionary folder (--dicdir, default Debian's
 * /var/lib/mecab/dic/unidic), then WordPiece on cl-tohoku's vocab (assets/ or ../shared).
 * Reports % of sentences with identical words and identical final token ids, and lists disagreements.
 *
 * Usage: npm run build && node dist/bench/ja-tokenizer-agreement.js [--dicdir DIR] [--show 20]
 */
import fs from "node:fs";
import { MecabTokenizer } from "../src/text/mecab.js";
import { japaneseVocab } from "../src/text/bert-japanese.js";
import { WordPiece } from "../src/text/wordpiece.js";
import { REPO_ROOT } from "./tools/paths.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const dicdir = opt("--dicdir", "/var/lib/mecab/dic/unidic");
const show = Number(opt("--show", "15"));
if (!fs.existsSync(`${dicdir}/sys.dic`)) {
  console.log(`SKIP: no compiled MeCab dictionary at ${dicdir} (apt-get install -y mecab unidic-mecab)`);
  process.exit(0);
}
const rows = fs
  .readFileSync(`${REPO_ROOT}/test/fixtures/ja/mecab-unidic-splits.jsonl`, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l) as { text: string; words: string[] });
const t0 = Date.now();
const mecab = MecabTokenizer.load(dicdir);
const loadMs = Date.now() - t0;
const wp = new WordPiece(japaneseVocab());
let sameWords = 0;
let sameIds = 0;
const diffs: string[] = [];
const t1 = Date.now();
for (const r of rows) {
  const words = mecab.split(r.text.normalize("NFKC"));
  const a = JSON.stringify(words) === JSON.stringify(r.words);
  const b = JSON.stringify(words.flatMap((w) => wp.encodeWord(w))) === JSON.stringify(r.words.flatMap((w) => wp.encodeWord(w)));
  if (a) sameWords++;
  if (b) sameIds++;
  if (!a && diffs.length < show) diffs.push(`${r.text}\n  ref:   ${r.words.join(" ")}\n  colts: ${words.join(" ")}`);
}
const ms = Date.now() - t1;
const pct = (n: number): string => ((100 * n) / rows.length).toFixed(2);
console.log(`dictionary ${dicdir} loaded in ${loadMs} ms; ${rows.length} sentences in ${ms} ms`);
console.log(`identical words: ${sameWords}/${rows.length} (${pct(sameWords)}%)`);
console.log(`identical token ids: ${sameIds}/${rows.length} (${pct(sameIds)}%)`);
for (const d of diffs) console.log(d);
