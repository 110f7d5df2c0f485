import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { resolveSettings } from "../../src/model/settings.js";
import { fixture } from "../helpers/paths.js";

interface Golden {
  pairs: { text: string; ids: number[] }[];
}

const dir = fixture("answerai-colbert-small-v1");
const readJson = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(f, "utf8")) as Record<string, unknown>;
const tokenizer = new ColbertTokenizer(readJson(`${dir}/tokenizer.json`), readJson(`${dir}/tokenizer_config.json`), resolveSettings());

test("WordPiece ids equal HF tokenizers' golden ids (llama.cpp bert-bge vectors, bert-base-uncased vocab)", () => {
  const golden = JSON.parse(fs.readFileSync(fixture("tokenizer-golden", "bert-uncased.json"), "utf8")) as Golden;
  assert.equal(golden.pairs.length, 43);
  const mismatches = golden.pairs.filter((p) => tokenizer.encodeContent(p.text).join(" ") !== p.ids.join(" "));
  assert.deepEqual(mismatches.map((m) => m.text), []);
});

test("golden set covers accents, CJK, emoji and whitespace-only input", () => {
  const golden = JSON.parse(fs.readFileSync(fixture("tokenizer-golden", "bert-uncased.json"), "utf8")) as Golden;
  assert.ok(golden.pairs.some((p) => p.ids.length === 0), "has an input that yields no tokens");
  assert.deepEqual(tokenizer.encodeContent("Führer"), [11865, 17875]); // fu ##hrer: accents stripped
  assert.ok(tokenizer.encodeContent("我想").length === 2, "CJK characters split one per token");
});
