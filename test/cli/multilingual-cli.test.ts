/** `colts model tiny --arch xlm-roberta` and `--japanese` models load and encode through the CLI. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { runCli } from "../helpers/cli.js";
import { fixture, tempDir } from "../helpers/paths.js";

interface Line {
  vectors: number[][];
  tokens?: string[];
}

describe("colts model tiny, multilingual", () => {
  test("--arch xlm-roberta: no token_type_ids, Unigram tokenizer.json, encodes with [QueryMarker]", async (t) => {
    const cwd = tempDir(t);
    const w = await runCli(["model", "tiny", "x", "--arch", "xlm-roberta", "--hidden", "32", "--layers", "1", "--dim", "8", "--matryoshka-dims", "8,4"], cwd);
    assert.equal(w.code, 0, w.stderr);
    const tj = JSON.parse(fs.readFileSync(path.join(cwd, "x", "tokenizer.json"), "utf8")) as { model: { type: string } };
    assert.equal(tj.model.type, "Unigram");
    const r = await runCli(["encode", "-m", "x", "--queries", "--workers", "0", "--dim", "4"], cwd, "What is the capital of France?\n");
    assert.equal(r.code, 0, r.stderr);
    const line = JSON.parse(r.stdout) as Line;
    assert.equal(line.vectors.length, 32);
    assert.equal(line.vectors[0]?.length, 4);
  });

  test("--japanese --mecab-dic: BertJapaneseTokenizer config, vocab.txt, bundled dictionary; encodes Japanese", async (t) => {
    const cwd = tempDir(t);
    const w = await runCli(["model", "tiny", "ja", "--japanese", "--mecab-dic", fixture("ja", "tiny-mecab-dic"), "--hidden", "32", "--layers", "1", "--dim", "8"], cwd);
    assert.equal(w.code, 0, w.stderr);
    const files = fs.readdirSync(path.join(cwd, "ja"));
    assert.ok(files.includes("vocab.txt") && files.includes("mecab-dic") && !files.includes("tokenizer.json"));
    const r = await runCli(["encode", "-m", "ja", "--documents", "--workers", "0"], cwd, "人参政権\n");
    assert.equal(r.code, 0, r.stderr);
    // MeCab: 人参 | 政権; WordPiece: 人参 is not in the vocabulary -> 人 ##参.
    const line = JSON.parse(r.stdout) as Line;
    assert.deepEqual(line.tokens, ["[CLS]", "[unused1]", "人", "##参", "政権", "[SEP]"]);
    assert.equal(line.vectors.length, 6);
  });

  test("bad --arch / --matryoshka-dims are usage errors", async (t) => {
    const cwd = tempDir(t);
    assert.equal((await runCli(["model", "tiny", "x", "--arch", "gpt"], cwd)).code, 2);
    assert.equal((await runCli(["model", "tiny", "x", "--matryoshka-dims", "8,x"], cwd)).code, 2);
  });
});
