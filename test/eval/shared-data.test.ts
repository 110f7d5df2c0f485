/**
 * Reads the real files in ../shared/datasets when the checkout has them (skipped otherwise): every
 * Anserini topic and qrels file parses, with the counts its README states, and SciFact loads as BEIR.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { loadBeir, readTopics, readTrecQrels } from "../../src/eval/io.js";
import { repoRoot } from "../helpers/paths.js";

const datasets = path.join(repoRoot, "..", "shared", "datasets");
const anserini = path.join(datasets, "anserini-topics-qrels");
const scifact = path.join(datasets, "scifact-beir", "beir-format");
const absent = (dir: string): string | false => (fs.existsSync(dir) ? false : `${dir} is absent`);

test("Anserini topics parse in all three forms with the README's counts", { skip: absent(anserini) }, async () => {
  const count = async (f: string): Promise<number> => (await readTopics(path.join(anserini, "topics", f))).size;
  assert.equal(await count("topics.dl19-passage.txt"), 43);
  assert.equal(await count("topics.dl20.txt"), 200);
  assert.equal(await count("topics.msmarco-passage.dev-subset.txt"), 6980);
  assert.equal(await count("topics.beir-v1.0.0-scifact.test.tsv.gz"), 300);
  assert.equal(await count("topics.miracl-v1.0-ja-dev.tsv"), 860);
  const cacm = await readTopics(path.join(anserini, "topics", "topics.cacm.txt"));
  assert.equal(cacm.size, 64);
  assert.equal(cacm.get("1"), "What articles exist which deal with TSS (Time Sharing System), an operating system for IBM computers?");
  for (const f of fs.readdirSync(path.join(anserini, "topics"))) await readTopics(path.join(anserini, "topics", f));
});

test("Anserini qrels parse (space and tab forms)", { skip: absent(anserini) }, async () => {
  const read = (f: string): ReturnType<typeof readTrecQrels> => readTrecQrels(path.join(anserini, "qrels", f));
  const dl19 = await read("qrels.dl19-passage.txt");
  assert.equal(dl19.size, 43);
  assert.equal([...dl19.values()].reduce((n, m) => n + m.size, 0), 9260);
  assert.equal((await read("qrels.miracl-v1.0-ja-dev.tsv")).get("0")?.get("2681119#1"), 1);
  for (const f of fs.readdirSync(path.join(anserini, "qrels"))) await read(f);
});

test("SciFact loads as BEIR: 5,183 documents, 300 test queries, 339 judgments", { skip: absent(scifact) }, async () => {
  const ds = await loadBeir(scifact, "test");
  assert.equal(ds.corpus.length, 5183);
  assert.equal(ds.queries.size, 300);
  assert.equal([...ds.qrels.values()].reduce((n, m) => n + m.size, 0), 339);
  const anseriniQrels = path.join(anserini, "qrels", "qrels.beir-v1.0.0-scifact.test.txt");
  if (fs.existsSync(anseriniQrels)) assert.deepEqual(await readTrecQrels(anseriniQrels), ds.qrels);
});
