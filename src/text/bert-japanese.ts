/**
 * transformers' `BertJapaneseTokenizer` with `word_tokenizer_type: "mecab"` and
 * `subword_tokenizer_type: "wordpiece"` (cl-tohoku/bert-base-japanese-v3, JaColBERT v2/v2.5):
 *
 *   split out special tokens -> NFKC (MecabTokenizer normalize_text, default true) -> MeCab words
 *   (optionally lower-cased) -> WordPiece per word -> [CLS] ... [SEP]
 *
 * The word splitter is colts' MeCab port (text/mecab.ts) over a compiled MeCab dictionary folder.
 * The reference uses unidic_lite (UniDic 2.1.2); any compiled UniDic works, with small differences
 * between UniDic versions (docs/DESIGN.md, "Multilingual and Japanese models").
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ColtsError } from "../errors.js";
import type { TokenizerBackend } from "./backend.js";
import { MecabTokenizer } from "./mecab.js";
import { WordPiece } from "./wordpiece.js";

type Json = Record<string, unknown>;

const VOCAB_URL = new URL("../../../assets/cl-tohoku-bert-base-japanese-v3-vocab.txt", import.meta.url);

/** cl-tohoku/bert-base-japanese-v3's 32,768 WordPiece tokens (JaColBERT's vocabulary), Apache-2.0. */
export function japaneseVocab(): string[] {
  return readVocab(VOCAB_URL);
}

export function readVocab(file: string | URL): string[] {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => l.replace(/\r$/, ""));
}

/** Whether a tokenizer_config.json asks for BertJapaneseTokenizer. */
export function isBertJapanese(config: Json): boolean {
  return config["tokenizer_class"] === "BertJapaneseTokenizer";
}

/**
 * Where a compiled MeCab dictionary is looked for, in order: the explicit folder, `$COLTS_MECAB_DICDIR`,
 * `<model>/mecab-dic` (generated test models ship one), unidic_lite / unidic from a Python install,
 * Debian's unidic-mecab.
 */
export function mecabDicDirCandidates(explicit: string | undefined, modelDir: string | undefined, dicName: string): string[] {
  const out: string[] = [];
  if (explicit) return [explicit];
  const env = process.env["COLTS_MECAB_DICDIR"];
  if (env) out.push(env);
  if (modelDir) out.push(path.join(modelDir, "mecab-dic"));
  const pyRoots = ["/usr/lib", "/usr/local/lib", path.join(os.homedir(), ".local/lib")];
  for (const root of pyRoots) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(root).filter((e) => /^python3/.test(e));
    } catch {
      continue;
    }
    for (const py of entries) {
      for (const site of ["site-packages", "dist-packages"]) out.push(path.join(root, py, site, dicName, "dicdir"));
    }
  }
  out.push("/var/lib/mecab/dic/unidic", "/usr/lib/x86_64-linux-gnu/mecab/dic/unidic");
  return out;
}

/** Where `BertJapaneseTokenizer.load` looks for the compiled MeCab dictionary. */
export interface BertJapaneseOptions {
  /** Compiled MeCab dictionary folder (sys.dic, unk.dic, matrix.bin, char.bin). Default: searched, see mecabDicDirCandidates. */
  mecabDicDir?: string;
  /** Model folder, searched for a `mecab-dic/` folder. */
  modelDir?: string;
}

/** transformers' BertJapaneseTokenizer, MeCab words then WordPiece (see the file comment). */
export class BertJapaneseTokenizer implements TokenizerBackend {
  private readonly wordPiece: WordPiece;
  private readonly lowercase: boolean;
  private readonly normalize: boolean;
  private readonly specials: string[];
  private readonly cls: number;
  private readonly sep: number;

  /**
   * From vocab.txt's lines, a loaded MeCab and tokenizer_config.json. Throws TOKENIZER_INVALID for
   * other word/subword tokenizer types or a vocab without the special tokens.
   */
  constructor(
    /** vocab.txt, one token per id. */
    readonly vocab: readonly string[],
    /** The word splitter. */
    readonly mecab: MecabTokenizer,
    config: Json,
  ) {
    const wordType = config["word_tokenizer_type"] ?? "basic";
    const subType = config["subword_tokenizer_type"] ?? "wordpiece";
    if (wordType !== "mecab" || subType !== "wordpiece") {
      throw new ColtsError("TOKENIZER_INVALID", `BertJapaneseTokenizer with word_tokenizer_type ${JSON.stringify(wordType)} / subword_tokenizer_type ${JSON.stringify(subType)} is not supported (only mecab + wordpiece)`);
    }
    const kwargs = (config["mecab_kwargs"] ?? {}) as Json;
    this.normalize = kwargs["normalize_text"] !== false;
    this.lowercase = config["do_lower_case"] === true;
    const unk = typeof config["unk_token"] === "string" ? config["unk_token"] : "[UNK]";
    this.wordPiece = new WordPiece(vocab, { unkToken: unk });
    const name = (k: string, d: string): string => {
      const v = config[k];
      return typeof v === "string" ? v : d;
    };
    this.specials = [name("cls_token", "[CLS]"), name("sep_token", "[SEP]"), name("pad_token", "[PAD]"), name("mask_token", "[MASK]"), unk];
    const id = (t: string): number => {
      const v = this.wordPiece.ids.get(t);
      if (v === undefined) throw new ColtsError("TOKENIZER_INVALID", `vocab.txt has no ${t}`);
      return v;
    };
    this.cls = id(name("cls_token", "[CLS]"));
    this.sep = id(name("sep_token", "[SEP]"));
  }

  /** Loads the dictionary (see BertJapaneseOptions) and builds the tokenizer. */
  static load(vocab: readonly string[], config: Json, opts: BertJapaneseOptions = {}): BertJapaneseTokenizer {
    const kwargs = (config["mecab_kwargs"] ?? {}) as Json;
    const dicName = typeof kwargs["mecab_dic"] === "string" ? kwargs["mecab_dic"] : "unidic_lite";
    const tried = mecabDicDirCandidates(opts.mecabDicDir, opts.modelDir, dicName);
    const dir = tried.find((d) => fs.existsSync(path.join(d, "sys.dic")));
    if (!dir) {
      throw new ColtsError(
        "MECAB_DICTIONARY_MISSING",
        `no compiled MeCab dictionary found for ${dicName} (tried ${tried.join(", ")}); install one (pip install unidic-lite, or apt-get install unidic-mecab) and pass its folder as mecabDicDir or $COLTS_MECAB_DICDIR`,
        { details: { tried } },
      );
    }
    return new BertJapaneseTokenizer(vocab, MecabTokenizer.load(dir), config);
  }

  /** MeCab words of a text (after NFKC), as transformers' MecabTokenizer.tokenize. */
  words(text: string): string[] {
    const out: string[] = [];
    for (const piece of this.splitSpecials(text)) {
      if (this.specials.includes(piece)) {
        out.push(piece);
        continue;
      }
      const normalized = this.normalize ? piece.normalize("NFKC") : piece;
      for (const w of this.mecab.split(normalized)) out.push(this.lowercase ? w.toLowerCase() : w);
    }
    return out;
  }

  /** Ids of a text; with `addSpecialTokens`, wrapped in [CLS] ... [SEP]. */
  encode(text: string, addSpecialTokens: boolean): number[] {
    const ids: number[] = [];
    for (const w of this.words(text)) {
      const special = this.specials.includes(w) ? this.wordPiece.ids.get(w) : undefined;
      if (special !== undefined) ids.push(special);
      else ids.push(...this.wordPiece.encodeWord(w));
    }
    return addSpecialTokens ? [this.cls, ...ids, this.sep] : ids;
  }

  /** Id of a vocab.txt entry, undefined when absent. */
  tokenToId(token: string): number | undefined {
    return this.wordPiece.ids.get(token);
  }

  /** vocab.txt entry of an id, undefined when out of range. */
  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  /** Lines of vocab.txt. */
  get vocabSize(): number {
    return this.vocab.length;
  }

  /** transformers splits special-token strings out before word splitting (its no-split trie). */
  private splitSpecials(text: string): string[] {
    const pattern = new RegExp(`(${this.specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`);
    return text.split(pattern).filter((p) => p !== "");
  }
}
