#!/usr/bin/env python3
"""Reference word splits for the Japanese tokenizer agreement test (run ONCE; output is committed).

Picks sentences from JSQuAD valid (../shared/datasets/jsquad-ja/valid-v1.3.json): every 3rd question
and every 4th context sentence (split after 。), deterministically, up to --limit of each; applies NFKC
exactly as transformers' MecabTokenizer does (normalize_text=True), and splits them with Debian's
MeCab + UniDic (`apt-get install -y mecab unidic-mecab`: UniDic 3.1.1, whereas the Python reference
`unidic_lite` is UniDic 2.1.2, so this reference is close, not exact).

Writes JSON lines {"text": <raw sentence>, "words": [<surface>, ...]}.
Usage: python3 bench/tools/jsquad-mecab-splits.py [--limit 1500] > test/fixtures/ja/mecab-unidic-splits.jsonl
"""
import json
import subprocess
import sys
import unicodedata

DATA = "../shared/datasets/jsquad-ja/valid-v1.3.json"
DIC = "/var/lib/mecab/dic/unidic"


def sentences(limit):
    d = json.load(open(DATA, encoding="utf-8"))
    qs, cs = [], []
    qi = ci = 0
    for art in d["data"]:
        for p in art["paragraphs"]:
            ctx = p["context"].split(" [SEP] ", 1)[-1]
            for s in ctx.split("。"):
                s = s.strip()
                if len(s) < 4:
                    continue
                if ci % 4 == 0 and len(cs) < limit:
                    cs.append(s + "。")
                ci += 1
            for qa in p["qas"]:
                if qi % 3 == 0 and len(qs) < limit:
                    qs.append(qa["question"])
                qi += 1
    return qs + cs


def main():
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else 1500
    texts = sentences(limit)
    normalized = [unicodedata.normalize("NFKC", t).replace("\n", " ") for t in texts]
    out = subprocess.run(
        ["mecab", "-d", DIC, "-Owakati", "-b", "1048576"],
        input="\n".join(normalized) + "\n", capture_output=True, text=True, check=True,
    ).stdout.split("\n")
    for text, line in zip(texts, out):
        sys.stdout.write(json.dumps({"text": text, "words": line.split()}, ensure_ascii=False) + "\n")


main()
