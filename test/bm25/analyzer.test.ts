import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzerFromDescriptor } from "../../src/bm25/analyzers.js";
import { englishAnalyzer, LUCENE_ENGLISH_STOP_WORDS } from "../../src/bm25/english.js";
import { tokenize } from "../../src/bm25/tokenizer.js";
import { isColtsError } from "../../src/errors.js";

const english = englishAnalyzer();
const analyze = (text: string): string[] => english.analyze(text);

test("Porter stemming: running -> run, studies -> studi, and friends", () => {
  assert.deepEqual(analyze("running studies studied connection connected relational"), ["run", "studi", "studi", "connect", "connect", "relat"]);
  // Words of one or two letters are never stemmed (Lucene's PorterStemmer does the same).
  assert.deepEqual(analyze("os us"), ["os", "us"]);
});

test("Lucene's 33 English stop words are removed, after lower-casing", () => {
  assert.equal(LUCENE_ENGLISH_STOP_WORDS.length, 33);
  assert.deepEqual(analyze("The cat AND the hat; it is not THERE"), ["cat", "hat"]);
  assert.deepEqual(analyze("to be or not to be"), []);
  // Only those 33: common words outside the list stay.
  assert.deepEqual(analyze("we have been from"), ["we", "have", "been", "from"]);
});

test("possessive 's is stripped (ASCII, typographic and full-width apostrophes), other apostrophes kept", () => {
  assert.deepEqual(analyze("John's JOHN’S Alzheimer's"), ["john", "john", "alzheim"]);
  assert.deepEqual(analyze("it's"), [], "it's -> it -> stop word");
  assert.deepEqual(analyze("can't O'Neil"), ["can't", "o'neil"]);
});

test("case: lower-cased per character as Java does (final sigma stays σ, İ becomes i)", () => {
  assert.deepEqual(analyze("DNA Dna dna"), ["dna", "dna", "dna"]);
  assert.deepEqual(analyze("ΟΔΟΣ İstanbul"), ["οδοσ", "istanbul"]);
});

test("numbers: decimals and grouped digits stay whole, units split at punctuation", () => {
  assert.deepEqual(analyze("1,000.5 mg/kg 0.05 p<0.001 10% 5mg"), ["1,000.5", "mg", "kg", "0.05", "p", "0.001", "10", "5mg"]);
  assert.deepEqual(analyze("IL-6 CD4+ T-cells"), ["il", "6", "cd4", "t", "cell"]);
});

test("unicode: NFKC folds compatibility forms; accents, Greek, CJK handled like Lucene", () => {
  assert.deepEqual(analyze("Ｈ２Ｏ ﬁsh µm"), ["h2o", "fish", "μm"]);
  assert.deepEqual(analyze("naïve café"), ["naïv", "café"]);
  assert.deepEqual(analyze("α-synuclein"), ["α", "synuclein"]);
  assert.deepEqual(englishAnalyzer({ normalization: "none" }).analyze("ﬁsh"), ["ﬁsh"]);
  // A decomposed é (e + U+0301) stays one word: the combining mark belongs to its letter.
  assert.deepEqual(tokenize("e\u0301te"), ["e\u0301te"]);
});

test("tokenizer: UAX #29 word rules as in Lucene's StandardTokenizer", () => {
  const cases: [string, string[]][] = [
    ["e.g. the U.S.A.", ["e.g", "the", "U.S.A"]],
    ["a:b 12:30 3.4.5 x.1", ["a:b", "12", "30", "3.4.5", "x", "1"]],
    ["foo_bar __ _x", ["foo_bar", "_x"]],
    ["http://example.com/a.b?c=1", ["http", "example.com", "a.b", "c", "1"]],
    ["日本語のテキスト", ["日", "本", "語", "の", "テキスト"]],
    ["한국어 텍스트", ["한국어", "텍스트"]],
    ["ภาษาไทย ok", ["ภาษาไทย", "ok"]],
    ["emoji 😀 done -- ... ''", ["emoji", "done"]],
    ["", []],
  ];
  for (const [text, want] of cases) assert.deepEqual(tokenize(text), want, text);
});

test("over-long tokens are cut at maxTokenLength (Lucene: 255)", () => {
  const long = "x".repeat(600);
  assert.deepEqual(tokenize(long).map((t) => t.length), [255, 255, 90]);
  assert.deepEqual(englishAnalyzer({ maxTokenLength: 4, stem: false }).analyze("abcdefghij"), ["abcd", "efgh", "ij"]);
});

test("options: no stemming, custom stop words, possessives off", () => {
  assert.deepEqual(englishAnalyzer({ stem: false }).analyze("Running studies"), ["running", "studies"]);
  assert.deepEqual(englishAnalyzer({ stopWords: [] }).analyze("the cat"), ["the", "cat"]);
  assert.deepEqual(englishAnalyzer({ stopWords: ["cat"] }).analyze("the cat"), ["the"]);
  assert.deepEqual(englishAnalyzer({ possessives: false, stem: false }).analyze("John's"), ["john's"]);
});

test("descriptor rebuilds the same analyser; bad options and unknown analysers are refused", () => {
  const a = englishAnalyzer({ stopWords: ["foo"], stem: false });
  const b = analyzerFromDescriptor(JSON.parse(JSON.stringify(a.descriptor)) as typeof a.descriptor);
  assert.deepEqual(b.descriptor, a.descriptor);
  assert.deepEqual(b.analyze("foo Bars"), ["bars"]);
  assert.throws(() => englishAnalyzer({ maxTokenLength: 0 }), (e: unknown) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => analyzerFromDescriptor({ name: "mecab", version: 1, options: {} }), /not built in/);
  assert.throws(() => analyzerFromDescriptor({ ...a.descriptor, version: 99 }), /version 99/);
  // Options read back from a file are checked at run time too.
  for (const options of [{ stopWords: "the" }, { stopWords: [1] }, { stem: "yes" }, { normalization: "NFC" }]) {
    assert.throws(() => analyzerFromDescriptor({ name: "english", version: 1, options }), (e: unknown) => isColtsError(e, "INPUT_INVALID"), JSON.stringify(options));
  }
});
