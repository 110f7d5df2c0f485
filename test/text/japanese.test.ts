/**
 * Japanese tokenization: colts' MeCab port against MeCab itself, and BertJapaneseTokenizer ids
 * against golden ids. Fixtures (bench/tools/tiny-mecab-dic.py): a tiny dictionary compiled by
 * mecab-dict-index, and for 7 sentences the words `mecab` returns with it plus the ids of
 * transformers' WordPiece on cl-tohoku/bert-base-japanese-v3's vocabulary.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { isColtsError } from "../../src/errors.js";
import { resolveSettings } from "../../src/model/settings.js";
import { BertJapaneseTokenizer, japaneseVocab } from "../../src/text/bert-japanese.js";
import { MecabTokenizer } from "../../src/text/mecab.js";
import { WordPiece } from "../../src/text/wordpiece.js";
import { fixture, tempDir, copyDir } from "../helpers/paths.js";

const DIC = fixture("ja", "tiny-mecab-dic");
const golden = JSON.parse(fs.readFileSync(fixture("ja", "golden-ids.json"), "utf8")) as { text: string; words: string[]; ids: number[] }[];
const CONFIG = {
  tokenizer_class: "BertJapaneseTokenizer",
  do_lower_case: false,
  word_tokenizer_type: "mecab",
  subword_tokenizer_type: "wordpiece",
  mecab_kwargs: { mecab_dic: "unidic_lite" },
};

describe("MeCab port", () => {
  const mecab = MecabTokenizer.load(DIC);

  test("splits every golden sentence into the words mecab returns with the same dictionary", () => {
    for (const g of golden) assert.deepEqual(mecab.split(g.text.normalize("NFKC")), g.words, g.text);
  });

  test("connection costs decide between segmentations (外国人参政権: the 1000 penalty before 人参 wins over fewer words)", () => {
    // 外国 100 + (1->2) 1000 + 人参 50 + 政権 50 = 1200  >  外国人 150 + 参政権 150 = 300
    assert.deepEqual(mecab.split("外国人参政権"), ["外国人", "参政権"]);
    // At the sentence start there is no penalty: 人参 50 + 政権 50 = 100  <  人 100 + 参政権 150 = 250
    assert.deepEqual(mecab.split("人参政権"), ["人参", "政権"]);
  });

  test("unknown words: a katakana run is grouped, whitespace is never part of a word, features come from unk.dic", () => {
    const words = mecab.parse("  トートバッグ  を");
    assert.deepEqual(words.map((w) => w.surface), ["トートバッグ", "を"]);
    assert.equal(words[0]?.unknown, true);
    assert.match(words[0]?.feature ?? "", /^名詞,未知語,KATAKANA/);
    assert.equal(words[1]?.unknown, false);
    assert.deepEqual(mecab.split(""), []);
    assert.deepEqual(mecab.split("   "), []);
  });

  test("a corrupt dictionary is a typed error naming the file", (t) => {
    const dir = tempDir(t);
    copyDir(DIC, dir);
    const sys = path.join(dir, "sys.dic");
    fs.writeFileSync(sys, fs.readFileSync(sys).subarray(0, 100));
    assert.throws(() => MecabTokenizer.load(dir), (e: unknown) => isColtsError(e, "TOKENIZER_INVALID") && e.message.includes("sys.dic"));
  });
});

describe("BertJapaneseTokenizer", () => {
  const vocab = japaneseVocab();

  test("the cl-tohoku vocabulary: 32,768 entries with [PAD] [UNK] [CLS] [SEP] [MASK] at 0..4", () => {
    assert.equal(vocab.length, 32768);
    assert.deepEqual(vocab.slice(0, 5), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
  });

  test("golden token ids (NFKC, MeCab words, WordPiece, [CLS] ... [SEP])", () => {
    const tok = BertJapaneseTokenizer.load(vocab, CONFIG, { mecabDicDir: DIC });
    for (const g of golden) assert.deepEqual(tok.encode(g.text, true), g.ids, g.text);
  });

  test("WordPiece: longest match first, ## continuations, unmatchable or over-long words are one [UNK]", () => {
    const wp = new WordPiece(["[UNK]", "ab", "a", "##b", "##c", "##bc"]);
    assert.deepEqual(wp.encodeWord("abc"), [1, 4]); // "ab" then "##c" (longest first piece wins, not "a" + "##bc")
    assert.deepEqual(wp.encodeWord("abx"), [0]);
    assert.deepEqual(wp.encodeWord("a bc"), [2, 0]);
    assert.deepEqual(new WordPiece(["[UNK]", "a", "##a"], { maxInputCharsPerWord: 3 }).encodeWord("aaaa"), [0]);
  });

  test("special-token strings in the text are kept whole, as transformers' no-split list", () => {
    const tok = BertJapaneseTokenizer.load(vocab, CONFIG, { mecabDicDir: DIC });
    assert.deepEqual(tok.encode("梅雨[MASK]梅雨", false), [2952, 7417, 4, 2952, 7417]);
  });

  test("missing dictionary: MECAB_DICTIONARY_MISSING listing where it looked", (t) => {
    const missing = path.join(tempDir(t), "nothing-here");
    assert.throws(
      () => BertJapaneseTokenizer.load(vocab, CONFIG, { mecabDicDir: missing }),
      (e: unknown) => isColtsError(e, "MECAB_DICTIONARY_MISSING") && e.message.includes(missing),
    );
  });

  test("ColBERT layout over the Japanese backend: [CLS] [unused0] words [SEP] [MASK]...", () => {
    const backend = BertJapaneseTokenizer.load(vocab, CONFIG, { mecabDicDir: DIC });
    const tok = new ColbertTokenizer({}, { ...CONFIG, mask_token: "[MASK]", pad_token: "[PAD]" }, resolveSettings({ queryLength: 10 }), backend);
    const q = tok.tokenizeQuery("人参政権");
    assert.deepEqual(q.ids, [2, 5, 680, 8140, 14064, 3, 4, 4, 4, 4]);
    assert.deepEqual(q.attention, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
    const d = tok.tokenizeDocument("梅雨がみられるのはどの期間？");
    assert.equal(d.ids[1], 6); // [unused1]
    assert.equal(d.keep[d.ids.indexOf(46)], 0); // "?" (NFKC of "？") is skiplisted
  });
});
