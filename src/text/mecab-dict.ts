/**
 * Reader of MeCab's compiled dictionary files (the `dicdir` that `mecab-dict-index` writes and that
 * `unidic_lite`, `unidic` and Debian's `unidic-mecab` ship): `sys.dic` and `unk.dic` (header, Darts
 * double array, tokens, features), `matrix.bin` (connection costs) and `char.bin` (character
 * categories). Formats as in MeCab 0.996 `dictionary.cpp`, `connector.cpp`, `char_property.cpp`.
 * Only what word splitting needs is decoded; feature strings are read lazily.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";

/** MeCab's `DictionaryMagicID`: the first word of a dictionary is file size XOR this. */
const DICTIONARY_MAGIC = 0xef718f77;
/** Header: 10 uint32 (magic, version, type, lexsize, lsize, rsize, dsize, tsize, fsize, dummy) + 32-byte charset. */
const HEADER_BYTES = 72;
/** One Token: lcAttr u16, rcAttr u16, posid u16, wcost i16, feature u32, compound u32. */
const TOKEN_BYTES = 16;

/** One dictionary entry (a morpheme candidate). */
export interface MecabToken {
  /** Left context id (used when this token is on the right of a connection). */
  lcAttr: number;
  /** Right context id. */
  rcAttr: number;
  /** Word cost. */
  wcost: number;
  /** Byte offset of its feature string in the feature section. */
  feature: number;
}

/** A found prefix: `count` tokens starting at `first`, for a key of `length` bytes. */
export interface PrefixMatch {
  first: number;
  count: number;
  length: number;
}

/**
 * A byte range as an ArrayBuffer slice usable by typed-array views: shared when already 4-byte
 * aligned (large files read with readFileSync are; UniDic's matrix.bin is ~480 MB), else copied.
 */
function aligned(buf: Buffer, begin: number, end: number): { buffer: ArrayBuffer; offset: number; bytes: number } {
  const offset = buf.byteOffset + begin;
  if (offset % 4 === 0 && buf.buffer instanceof ArrayBuffer) return { buffer: buf.buffer, offset, bytes: end - begin };
  const out = new ArrayBuffer(end - begin);
  new Uint8Array(out).set(buf.subarray(begin, end));
  return { buffer: out, offset: 0, bytes: end - begin };
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (cause) {
    throw new ColtsError("TOKENIZER_INVALID", `cannot read MeCab dictionary file ${file}`, { cause, details: { file } });
  }
}

/** `sys.dic` / `unk.dic`. */
export class MecabDictionary {
  /** Double array: base at [2i], check at [2i + 1] (Darts 0.32 unit = int32 base, uint32 check). */
  private readonly da: Int32Array;
  private readonly tokens: DataView;
  private readonly features: Buffer;
  /** Number of entries (MeCab `lexsize`): with the file size, identifies a dictionary build. */
  readonly lexsize: number;
  readonly lsize: number;
  readonly rsize: number;
  readonly charset: string;

  constructor(buf: Buffer, readonly file: string) {
    const bad = (why: string): never => {
      throw new ColtsError("TOKENIZER_INVALID", `${file} is not a MeCab dictionary: ${why}`, { details: { file } });
    };
    if (buf.length < HEADER_BYTES) bad("too short");
    const u32 = (i: number): number => buf.readUInt32LE(i * 4);
    if ((u32(0) ^ DICTIONARY_MAGIC) >>> 0 !== buf.length) bad("bad magic number or truncated file");
    this.lexsize = u32(3);
    this.lsize = u32(4);
    this.rsize = u32(5);
    const [dsize, tsize, fsize] = [u32(6), u32(7), u32(8)];
    if (HEADER_BYTES + dsize + tsize + fsize > buf.length) bad("section sizes exceed the file");
    const nul = buf.indexOf(0, 40);
    this.charset = buf.toString("latin1", 40, nul >= 40 && nul < HEADER_BYTES ? nul : HEADER_BYTES);
    if (!/^utf-?8$/i.test(this.charset)) bad(`charset is ${this.charset}; only UTF-8 dictionaries are supported`);
    const da = aligned(buf, HEADER_BYTES, HEADER_BYTES + dsize);
    this.da = new Int32Array(da.buffer, da.offset, da.bytes >> 2);
    const tokens = aligned(buf, HEADER_BYTES + dsize, HEADER_BYTES + dsize + tsize);
    this.tokens = new DataView(tokens.buffer, tokens.offset, tokens.bytes);
    this.features = buf.subarray(HEADER_BYTES + dsize + tsize, HEADER_BYTES + dsize + tsize + fsize);
  }

  static load(file: string): MecabDictionary {
    return new MecabDictionary(readFile(file), file);
  }

  private base(i: number): number {
    return this.da[2 * i] ?? 0;
  }
  private check(i: number): number {
    return (this.da[2 * i + 1] ?? -1) >>> 0;
  }

  /** Darts `commonPrefixSearch` over key[begin..end): every entry that is a prefix, shortest first. */
  commonPrefixSearch(key: Uint8Array, begin: number, end: number): PrefixMatch[] {
    const out: PrefixMatch[] = [];
    let b = this.base(0);
    for (let i = begin; ; i++) {
      const n = this.base(b);
      if (b >>> 0 === this.check(b) && n < 0) out.push(this.match(-n - 1, i - begin));
      if (i === end) break;
      const p = b + (key[i] ?? 0) + 1;
      if (b >>> 0 !== this.check(p)) break;
      b = this.base(p);
    }
    return out;
  }

  /** Darts `exactMatchSearch`; null when the key is absent. */
  exactMatch(key: Uint8Array): PrefixMatch | null {
    let b = this.base(0);
    for (const byte of key) {
      const p = b + byte + 1;
      if (b >>> 0 !== this.check(p)) return null;
      b = this.base(p);
    }
    const n = this.base(b);
    return b >>> 0 === this.check(b) && n < 0 ? this.match(-n - 1, key.length) : null;
  }

  /** MeCab packs (first token << 8 | token count) into the double-array value. */
  private match(value: number, length: number): PrefixMatch {
    return { first: value >>> 8, count: value & 0xff, length };
  }

  token(i: number): MecabToken {
    const o = i * TOKEN_BYTES;
    const t = this.tokens;
    return { lcAttr: t.getUint16(o, true), rcAttr: t.getUint16(o + 2, true), wcost: t.getInt16(o + 6, true), feature: t.getUint32(o + 8, true) };
  }

  /** The comma-separated feature string of a token (part of speech, reading, ...). */
  feature(t: MecabToken): string {
    const end = this.features.indexOf(0, t.feature);
    return this.features.toString("utf8", t.feature, end < 0 ? this.features.length : end);
  }
}

/** `matrix.bin`: u16 lsize, u16 rsize, then i16 costs indexed [leftNode.rcAttr + lsize * rightNode.lcAttr]. */
export class MecabMatrix {
  readonly lsize: number;
  readonly rsize: number;
  private readonly costs: Int16Array;

  constructor(buf: Buffer, file: string) {
    if (buf.length < 4) throw new ColtsError("TOKENIZER_INVALID", `${file} is not a MeCab matrix.bin: too short`, { details: { file } });
    this.lsize = buf.readUInt16LE(0);
    this.rsize = buf.readUInt16LE(2);
    if (buf.length !== 4 + 2 * this.lsize * this.rsize) {
      throw new ColtsError("TOKENIZER_INVALID", `${file}: size does not match its ${this.lsize} x ${this.rsize} header`, { details: { file } });
    }
    const costs = aligned(buf, 4, buf.length);
    this.costs = new Int16Array(costs.buffer, costs.offset, costs.bytes >> 1);
  }

  /** Connection cost between a left node's right context and a right node's left context. */
  cost(leftRcAttr: number, rightLcAttr: number): number {
    return this.costs[leftRcAttr + this.lsize * rightLcAttr] ?? 0;
  }
}

/** Category of a character, MeCab's `CharInfo` bit field. */
export interface CharInfo {
  /** Bit set of categories the character belongs to. */
  type: number;
  /** Category whose unknown-word entries are used. */
  defaultType: number;
  /** Unknown words of 1..length characters are proposed. */
  length: number;
  /** Also propose the whole run of same-category characters as one unknown word. */
  group: boolean;
  /** Propose unknown words even where the dictionary has entries. */
  invoke: boolean;
}

/** `char.bin`: u32 category count, category names (32 bytes each), then a u32 CharInfo per UCS-2 code unit 0..0xfffe. */
export class MecabCharProperty {
  readonly names: string[];
  private readonly map: Uint32Array;

  constructor(buf: Buffer, file: string) {
    const csize = buf.length >= 4 ? buf.readUInt32LE(0) : -1;
    if (csize < 0 || buf.length !== 4 + 32 * csize + 4 * 0xffff) {
      throw new ColtsError("TOKENIZER_INVALID", `${file} is not a MeCab char.bin`, { details: { file } });
    }
    this.names = [];
    for (let i = 0; i < csize; i++) {
      const s = buf.subarray(4 + 32 * i, 4 + 32 * (i + 1));
      const nul = s.indexOf(0);
      this.names.push(s.toString("latin1", 0, nul < 0 ? 32 : nul));
    }
    const map = aligned(buf, 4 + 32 * csize, buf.length);
    this.map = new Uint32Array(map.buffer, map.offset, map.bytes >> 2);
  }

  /** Info of a UCS-2 code (MeCab maps code points above U+FFFF to 0). */
  info(code: number): CharInfo {
    const v = this.map[code] ?? this.map[0] ?? 0;
    return { type: v & 0x3ffff, defaultType: (v >>> 18) & 0xff, length: (v >>> 26) & 0xf, group: ((v >>> 30) & 1) === 1, invoke: v >>> 31 === 1 };
  }
}

/** Everything word splitting needs from one dicdir. */
export interface MecabDictionaryFiles {
  /** The dicdir it was loaded from. */
  dir: string;
  /** sys.dic: the word entries. */
  sys: MecabDictionary;
  /** unk.dic: entries for unknown words, one set per character category. */
  unk: MecabDictionary;
  /** matrix.bin: connection costs between adjacent words. */
  matrix: MecabMatrix;
  /** char.bin: character categories and how unknown words are grouped. */
  chars: MecabCharProperty;
}

/** Loads a compiled MeCab dicdir (sys.dic, unk.dic, matrix.bin, char.bin). */
export function loadMecabDictionary(dir: string): MecabDictionaryFiles {
  if (!fs.existsSync(path.join(dir, "sys.dic"))) {
    throw new ColtsError("TOKENIZER_INVALID", `${dir} is not a compiled MeCab dictionary folder (no sys.dic)`, { details: { dir } });
  }
  const file = (name: string): string => path.join(dir, name);
  return {
    dir,
    sys: MecabDictionary.load(file("sys.dic")),
    unk: MecabDictionary.load(file("unk.dic")),
    matrix: new MecabMatrix(readFile(file("matrix.bin")), file("matrix.bin")),
    chars: new MecabCharProperty(readFile(file("char.bin")), file("char.bin")),
  };
}
