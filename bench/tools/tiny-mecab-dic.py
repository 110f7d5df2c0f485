#!/usr/bin/env python3
"""Builds the tiny MeCab dictionary and the golden Japanese token ids used by the tests (run ONCE;
outputs are committed under test/fixtures/ja/).

Needs Debian's `mecab`, `mecab-utils` (mecab-dict-index) and `unidic-mecab`, and ../shared for the
cl-tohoku vocabulary. The lexicon is the UniDic words of three JSQuAD sentences
(test/fixtures/ja/mecab-unidic-splits.jsonl) plus a hand-made ambiguity (外国人参政権) whose connection
costs make the right split win; unknown words come from a small char.def/unk.def.
Golden ids = a transcription of transformers' WordpieceTokenizer over the words that `mecab` itself
returns with this dictionary, so the test compares colts to MeCab + transformers' algorithm.

Usage: python3 bench/tools/tiny-mecab-dic.py
"""
import json
import os
import subprocess
import tempfile
import unicodedata

OUT = "test/fixtures/ja/tiny-mecab-dic"
VOCAB = "../shared/datasets/tokenizers/cl-tohoku-bert-base-japanese-v3/vocab.txt"
ROWS = [json.loads(l) for l in open("test/fixtures/ja/mecab-unidic-splits.jsonl", encoding="utf-8")][:3]

CHAR_DEF = """DEFAULT 0 1 0
SPACE 0 1 0
KANJI 0 0 2
SYMBOL 1 1 0
NUMERIC 1 1 0
ALPHA 1 1 0
HIRAGANA 0 1 2
KATAKANA 1 1 2
0x0020 SPACE
0x00A0 SPACE
0x3000 SPACE
0x0021..0x002F SYMBOL
0x003A..0x0040 SYMBOL
0x0030..0x0039 NUMERIC
0x0041..0x005A ALPHA
0x0061..0x007A ALPHA
0x3001..0x3003 SYMBOL
0x3041..0x309F HIRAGANA
0x30A1..0x30FF KATAKANA
0x4E00..0x9FFF KANJI
"""
CATS = ["DEFAULT", "SPACE", "KANJI", "SYMBOL", "NUMERIC", "ALPHA", "HIRAGANA", "KATAKANA"]
# Connection costs: ids 0 (BOS/EOS), 1 (ordinary), 2 (人参, penalised after a word ending in context 1).
MATRIX = ["3 3"] + [f"{l} {r} {1000 if (l, r) == (1, 2) else 0}" for l in range(3) for r in range(3)]
EXTRA = {"外国": 100, "人": 100, "参政": 100, "権": 100, "外国人": 150, "人参": 50, "政権": 50, "参政権": 150}
SENTENCES = [r["text"] for r in ROWS] + [
    "外国人参政権",
    "人参政権",
    "トートバッグを ColBERT で検索する",
    "ＡＢＣ１２３の梅雨",
]


def wordpiece(vocab, token):
    """transformers WordpieceTokenizer.tokenize for one whitespace-free token."""
    chars = list(token)
    if len(chars) > 100:
        return ["[UNK]"]
    out, start = [], 0
    while start < len(chars):
        end, cur = len(chars), None
        while start < end:
            sub = "".join(chars[start:end])
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        out.append(cur)
        start = end
    return out


def main():
    lex = {}
    for r in ROWS:
        for w in r["words"]:
            lex.setdefault(w, 100)
    lex.update(EXTRA)
    with tempfile.TemporaryDirectory() as src:
        def write(name, text):
            with open(os.path.join(src, name), "w", encoding="utf-8") as f:
                f.write(text)
        write("char.def", CHAR_DEF)
        write("unk.def", "".join(f"{c},1,1,30000,名詞,未知語,{c}\n" for c in CATS))
        write("matrix.def", "\n".join(MATRIX) + "\n")
        write("dicrc", "cost-factor = 800\nbos-feature = BOS/EOS,*,*\neval-size = 2\nunk-eval-size = 2\nconfig-charset = utf8\n")
        rows = []
        for w, cost in sorted(lex.items()):
            lc = 2 if w == "人参" else 1
            rows.append(f"{w},{lc},1,{cost},名詞,一般,{w}\n")
        write("lex.csv", "".join(rows))
        os.makedirs(OUT, exist_ok=True)
        subprocess.run(["/usr/lib/mecab/mecab-dict-index", "-d", src, "-o", OUT, "-f", "utf8", "-t", "utf8"], check=True, capture_output=True)
        write_dicrc = open(os.path.join(src, "dicrc"), encoding="utf-8").read()
        open(os.path.join(OUT, "dicrc"), "w", encoding="utf-8").write(write_dicrc)
    vocab = {t.rstrip("\n"): i for i, t in enumerate(open(VOCAB, encoding="utf-8"))}
    golden = []
    for s in SENTENCES:
        norm = unicodedata.normalize("NFKC", s)
        words = subprocess.run(["mecab", "-d", OUT, "-Owakati"], input=norm + "\n", capture_output=True, text=True, check=True).stdout.split()
        pieces = [p for w in words for p in wordpiece(vocab, w)]
        golden.append({"text": s, "words": words, "tokens": pieces, "ids": [vocab["[CLS]"]] + [vocab[p] for p in pieces] + [vocab["[SEP]"]]})
    with open("test/fixtures/ja/golden-ids.json", "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")


main()
