/** CJK bigram and Japanese (MeCab) BM25 analysers; the Japanese one on the tiny fixture dictionary. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzerFromDescriptor } from "../../src/bm25/analyzers.js";
import { englishAnalyzer } from "../../src/bm25/english.js";
import { cjkAnalyzer } from "../../src/bm25/cjk.js";
import { Bm25Index } from "../../src/bm25/bm25-index.js";
import { japaneseAnalyzer } from "../../src/bm25/japanese.js";
import { loadBm25, saveBm25 } from "../../src/bm25/store.js";
import { isColtsError } from "../../src/errors.js";
import { fixture, tempDir } from "../helpers/paths.js";

const DIC = fixture("ja", "tiny-mecab-dic");

test("cjk: overlapping bigrams for CJK runs, lone characters kept, Latin split and lower-cased, punctuation dropped", () => {
  const a = cjkAnalyzer();
  assert.deepEqual(a.analyze("東京都に行く。"), ["東京", "京都", "都に", "に行", "行く"]);
  assert.deepEqual(a.analyze("Ｔｏｋｙｏ 東 タワー、서울시"), ["tokyo", "東", "タワ", "ワー", "서울", "울시"]);
  assert.deepEqual(a.analyze("ColBERT-v2で検索"), ["colbert", "v2", "で検", "検索"]);
});

test("english analyser (for comparison) splits Han and Hiragana into single characters", () => {
  assert.deepEqual(englishAnalyzer().analyze("東京都"), ["東", "京", "都"]);
});

test("japanese: MeCab words after NFKC, punctuation and stop parts of speech dropped", () => {
  const a = japaneseAnalyzer({ mecabDicDir: DIC });
  // Every tiny-dictionary word is tagged 名詞 (noun): only "。" and "?" go.
  assert.deepEqual(a.analyze("梅雨がみられるのはどの期間？"), ["梅雨", "が", "み", "られる", "の", "は", "どの", "期間"]);
  assert.deepEqual(japaneseAnalyzer({ mecabDicDir: DIC, stopTags: ["名詞"] }).analyze("外国人参政権"), []);
  assert.deepEqual(a.analyze("ＡＢＣ１２３の梅雨"), ["abc", "123", "の", "梅雨"]);
});

test("japanese: the descriptor records the dictionary; an index reloads with it and refuses another", async (t) => {
  const dir = tempDir(t);
  const a = japaneseAnalyzer({ mecabDicDir: DIC });
  const bm25 = new Bm25Index({ analyzer: a });
  bm25.add([
    { id: "d1", text: "日本で梅雨がないのは北海道とどこか。" },
    { id: "d2", text: "外国人参政権" },
  ]);
  await saveBm25(dir, bm25);
  // Loading finds the dictionary the way users point at it: $COLTS_MECAB_DICDIR.
  process.env["COLTS_MECAB_DICDIR"] = DIC;
  try {
    const loaded = await loadBm25(dir);
    assert.equal(loaded.search("北海道の梅雨", 1)[0]?.id, "d1");
    const other = { ...a.descriptor, options: { ...a.descriptor.options, dictionary: { lexsize: 1, bytes: 2 } } };
    assert.throws(() => analyzerFromDescriptor(other), (e: unknown) => isColtsError(e, "INPUT_INVALID") && /another MeCab dictionary/.test(e.message));
  } finally {
    delete process.env["COLTS_MECAB_DICDIR"];
  }
});
