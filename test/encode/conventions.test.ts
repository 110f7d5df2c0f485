/**
 * Query and document layouts (ids, attention, kept positions) as PyLate and Stanford ColBERT build
 * them, on the real bert-base-uncased tokenizer of answerai-colbert-small-v1. Ids are hand-checkable:
 * [CLS]=101 [SEP]=102 [MASK]=103 [unused0]=1 [unused1]=2 ","=1010 "."=1012.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { ASCII_PUNCTUATION, resolveSettings, type ColbertSettings } from "../../src/model/settings.js";
import { fixture } from "../helpers/paths.js";

const dir = fixture("answerai-colbert-small-v1");
const readJson = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")) as Record<string, unknown>;
const make = (s: Partial<ColbertSettings> = {}): ColbertTokenizer =>
  new ColbertTokenizer(readJson("tokenizer.json"), readJson("tokenizer_config.json"), resolveSettings({ documentLength: 300 }, s));
const Q = [2054, 2003, 1996, 3007, 1997, 2605]; // what is the capital of france
const ones = (n: number): number[] => Array<number>(n).fill(1);
const zeros = (n: number): number[] => Array<number>(n).fill(0);

describe("queries", () => {
  test("marker at position 1, [MASK] expansion to query_length, expansion not attended, every vector kept", () => {
    const r = make().tokenizeQuery("what is the capital of france");
    assert.deepEqual(r.ids, [101, 1, ...Q, 102, ...Array<number>(23).fill(103)]);
    assert.deepEqual(r.attention, [...ones(9), ...zeros(23)]);
    assert.deepEqual(r.keep, ones(32));
  });

  test("attend_to_expansion_tokens: the [MASK] tokens are attended", () => {
    const r = make({ attendToExpansionTokens: true }).tokenizeQuery("what is the capital of france");
    assert.deepEqual(r.attention, ones(32));
    assert.equal(r.ids.length, 32);
  });

  test("without query expansion: no padding, only real tokens kept, attention flag ignored", () => {
    const r = make({ doQueryExpansion: false, attendToExpansionTokens: true }).tokenizeQuery("what is the capital of france");
    assert.deepEqual(r.ids, [101, 1, ...Q, 102]);
    assert.deepEqual(r.keep, ones(9));
  });

  test("long query: truncated so that marker + specials fit in exactly query_length; punctuation kept", () => {
    const r = make().tokenizeQuery("word, ".repeat(100));
    assert.equal(r.ids.length, 32);
    assert.deepEqual(r.ids.slice(0, 2), [101, 1]);
    assert.equal(r.ids[31], 102);
    assert.ok(!r.ids.includes(103), "no room left for expansion");
    assert.ok(r.ids.includes(1010) && r.keep.every((k) => k === 1), "queries never drop punctuation");
  });

  test("empty query: [CLS] [Q] [SEP] then 29 [MASK]", () => {
    const r = make().tokenizeQuery("");
    assert.deepEqual(r.ids, [101, 1, 102, ...Array<number>(29).fill(103)]);
  });

  test("surrounding whitespace is stripped as Sentence-Transformers does", () => {
    assert.deepEqual(make().tokenizeQuery("  what is the capital of france \n"), make().tokenizeQuery("what is the capital of france"));
  });

  test("lowercase setting (sentence_bert_config do_lower_case) lower-cases before tokenizing", () => {
    const cased = new ColbertTokenizer(
      { ...readJson("tokenizer.json"), normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false } },
      readJson("tokenizer_config.json"),
      resolveSettings({ lowercase: true }),
    );
    assert.deepEqual(cased.tokenizeQuery("What IS").ids.slice(2, 4), [2054, 2003]);
  });

  test("custom query length", () => {
    assert.equal(make({ queryLength: 48 }).tokenizeQuery("hi").ids.length, 48);
  });
});

describe("documents", () => {
  test("marker at position 1, punctuation dropped from kept vectors, [CLS]/marker/[SEP] kept", () => {
    const r = make().tokenizeDocument("paris, is the capital.");
    assert.deepEqual(r.ids, [101, 2, 3000, 1010, 2003, 1996, 3007, 1012, 102]);
    assert.deepEqual(r.attention, ones(9));
    assert.deepEqual(r.keep, [1, 1, 1, 0, 1, 1, 1, 0, 1]);
  });

  test("the default skiplist is every ASCII punctuation token", () => {
    const t = make();
    assert.equal(t.skiplist.size, ASCII_PUNCTUATION.length);
    const r = t.tokenizeDocument("a " + ASCII_PUNCTUATION.join(" ") + " b");
    assert.equal(r.keep.reduce((a, b) => a + b, 0), 5); // [CLS] [D] a b [SEP]
  });

  test("an empty skiplist (Stanford mask_punctuation=false) keeps punctuation", () => {
    const r = make({ skiplistWords: [] }).tokenizeDocument("paris, is the capital.");
    assert.deepEqual(r.keep, ones(9));
  });

  test("long document: truncated to document_length including the marker", () => {
    const r = make().tokenizeDocument("lorem ipsum ".repeat(400));
    assert.equal(r.ids.length, 300);
    assert.deepEqual(r.ids.slice(0, 2), [101, 2]);
    assert.equal(r.ids[299], 102);
  });

  test("empty document: [CLS] [D] [SEP]", () => {
    assert.deepEqual(make().tokenizeDocument("").ids, [101, 2, 102]);
  });

  test("no marker when the prefix is null", () => {
    assert.deepEqual(make({ documentPrefix: null }).tokenizeDocument("paris").ids, [101, 3000, 102]);
  });
});

describe("configuration errors", () => {
  test("a prefix that is not a token is refused with CONFIG_INVALID", () => {
    assert.throws(() => make({ queryPrefix: "[NotAToken]" }), { code: "CONFIG_INVALID" });
  });

  test("a length too small to hold any text is refused", () => {
    assert.throws(() => make({ queryLength: 3 }), { code: "CONFIG_INVALID" });
  });
});
