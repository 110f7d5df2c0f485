/**
 * MeCab's word segmentation (lattice + Viterbi) in TypeScript, over a compiled MeCab dictionary
 * (mecab-dict.ts). Reproduces MeCab 0.996 `tokenizer.cpp` (lookup: dictionary prefixes, then
 * unknown words by character category) and `viterbi.cpp` (best path, first-found wins on equal
 * cost, nodes visited in MeCab's linked-list order), so that with the same dictionary it returns the
 * same words as `mecab -Owakati` and as fugashi, which transformers' `MecabTokenizer` uses.
 *
 * Works on UTF-8 bytes as MeCab does (the double array is keyed on bytes). Whitespace (the SPACE
 * category) before a word is skipped and never part of a surface.
 */
import { loadMecabDictionary, type CharInfo, type MecabDictionaryFiles, type MecabToken } from "./mecab-dict.js";

/** One word of the best path. */
export interface MecabWord {
  /** The word as it appears in the text (leading whitespace excluded). */
  surface: string;
  /** Comma-separated features (part of speech first); unknown words get the unk.dic entry's. */
  feature: string;
  /** True when the word came from unk.dic (no dictionary entry). */
  unknown: boolean;
}

/** Options of `MecabTokenizer`. */
export interface MecabOptions {
  /**
   * Longest run of same-category characters proposed as one unknown word (MeCab `max-grouping-size`).
   * Default 24, MeCab's default; only change it to mirror a `dicrc` that sets it.
   */
  maxGroupingSize?: number;
}

interface Node {
  /** Byte offset where the surface starts (after skipped whitespace). */
  begin: number;
  /** Surface length in bytes. */
  length: number;
  /** Length including the skipped whitespace before it. */
  rlength: number;
  token: MecabToken;
  unknown: boolean;
  cost: number;
  prev: Node | null;
}

/** MeCab's `utf8_to_ucs2`: [UCS-2 code (0 above U+FFFF), byte length]. */
function decodeAt(bytes: Uint8Array, i: number, end: number): [number, number] {
  const b0 = bytes[i] ?? 0;
  const len = end - i;
  const at = (k: number): number => (bytes[i + k] ?? 0) & 0x3f;
  if (b0 < 0x80) return [b0, 1];
  if (len >= 2 && (b0 & 0xe0) === 0xc0) return [((b0 & 0x1f) << 6) | at(1), 2];
  if (len >= 3 && (b0 & 0xf0) === 0xe0) return [((b0 & 0x0f) << 12) | (at(1) << 6) | at(2), 3];
  if (len >= 4 && (b0 & 0xf8) === 0xf0) return [0, 4];
  return [0, 1];
}

const BOS_TOKEN: MecabToken = { lcAttr: 0, rcAttr: 0, wcost: 0, feature: 0 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** MeCab word segmentation over a loaded dictionary (see the file comment). */
export class MecabTokenizer {
  private readonly maxGroupingSize: number;
  /** Unknown-word tokens per character category (index = category id). */
  private readonly unkTokens: MecabToken[][];
  private readonly space: CharInfo;

  /** A tokenizer over an already loaded dictionary (`load` reads one from a folder). */
  constructor(
    /** The dictionary it segments with. */
    readonly dict: MecabDictionaryFiles,
    opts: MecabOptions = {},
  ) {
    this.maxGroupingSize = opts.maxGroupingSize ?? 24;
    this.unkTokens = dict.chars.names.map((name) => {
      const m = dict.unk.exactMatch(encoder.encode(name));
      return m ? Array.from({ length: m.count }, (_, k) => dict.unk.token(m.first + k)) : [];
    });
    this.space = dict.chars.info(0x20);
  }

  /** Loads the compiled dictionary in `dicDir`; TOKENIZER_INVALID when it is not one. */
  static load(dicDir: string, opts: MecabOptions = {}): MecabTokenizer {
    return new MecabTokenizer(loadMecabDictionary(dicDir), opts);
  }

  /** Surfaces of the best path, as `mecab -Owakati`. */
  split(text: string): string[] {
    return this.parse(text).map((w) => w.surface);
  }

  /** Words of the best path with their features. */
  parse(text: string): MecabWord[] {
    const bytes = encoder.encode(text);
    const len = bytes.length;
    // endNodes[p]: nodes ending at byte p, in insertion order; MeCab prepends, so it visits them last-first.
    const endNodes: Node[][] = Array.from({ length: len + 1 }, () => []);
    const bos: Node = { begin: 0, length: 0, rlength: 0, token: BOS_TOKEN, unknown: false, cost: 0, prev: null };
    endNodes[0]?.push(bos);
    for (let pos = 0; pos < len; pos++) {
      if ((endNodes[pos]?.length ?? 0) === 0) continue;
      for (const right of this.lookup(bytes, pos, len)) {
        this.connect(endNodes[pos] ?? [], right);
        const at = pos + right.rlength;
        if (at <= len) endNodes[at]?.push(right);
      }
    }
    const eos: Node = { begin: len, length: 0, rlength: 0, token: BOS_TOKEN, unknown: false, cost: 0, prev: null };
    for (let pos = len; pos >= 0; pos--) {
      const list = endNodes[pos] ?? [];
      if (list.length > 0) {
        this.connect(list, eos);
        break;
      }
    }
    const words: MecabWord[] = [];
    for (let n = eos.prev; n && n !== bos; n = n.prev) {
      const dic = n.unknown ? this.dict.unk : this.dict.sys;
      words.push({ surface: decoder.decode(bytes.subarray(n.begin, n.begin + n.length)), feature: dic.feature(n.token), unknown: n.unknown });
    }
    return words.reverse();
  }

  /** Viterbi step: the cheapest left node for `right` (first found wins ties, in MeCab's order). */
  private connect(lefts: Node[], right: Node): void {
    let best: Node | null = null;
    let bestCost = Infinity;
    for (let i = lefts.length - 1; i >= 0; i--) {
      const left = lefts[i] as Node;
      const cost = left.cost + this.dict.matrix.cost(left.token.rcAttr, right.token.lcAttr) + right.token.wcost;
      if (cost < bestCost) {
        bestCost = cost;
        best = left;
      }
    }
    right.prev = best;
    right.cost = bestCost;
  }

  /** Nodes starting at byte `begin` (after whitespace), in the order MeCab's `connect` visits them. */
  private lookup(bytes: Uint8Array, begin: number, len: number): Node[] {
    const chars = this.dict.chars;
    const end = Math.min(len, begin + 65535);
    // Skip whitespace: MeCab's seekToOtherType(begin, end, space).
    let begin2 = begin;
    let cinfo = this.space;
    let mblen = 0;
    for (;;) {
      if (begin2 === end) return [];
      const [code, n] = decodeAt(bytes, begin2, end);
      const info = chars.info(code);
      mblen = n;
      if ((cinfo.type & info.type) === 0) {
        cinfo = info;
        break;
      }
      cinfo = info;
      begin2 += n;
    }
    const created: Node[] = [];
    const add = (token: MecabToken, length: number, unknown: boolean): void => {
      created.push({ begin: begin2, length, rlength: begin2 - begin + length, token, unknown, cost: 0, prev: null });
    };
    for (const m of this.dict.sys.commonPrefixSearch(bytes, begin2, end)) {
      for (let k = 0; k < m.count; k++) add(this.dict.sys.token(m.first + k), m.length, false);
    }
    if (created.length === 0 || cinfo.invoke) {
      const addUnknown = (to: number): void => {
        for (const t of this.unkTokens[cinfo.defaultType] ?? []) add(t, to - begin2, true);
      };
      let begin3 = begin2 + mblen;
      let groupEnd = -1;
      if (cinfo.group) {
        // seekToOtherType(begin3, end, cinfo): the category chains through each character met.
        let c = cinfo;
        let p = begin3;
        let clen = 0;
        while (p !== end) {
          const [code, n] = decodeAt(bytes, p, end);
          const info = chars.info(code);
          if ((c.type & info.type) === 0) break;
          p += n;
          clen++;
          c = info;
        }
        if (clen <= this.maxGroupingSize) addUnknown(p);
        groupEnd = p;
      }
      for (let i = 1; i <= cinfo.length; i++) {
        if (begin3 > end) break;
        // MeCab `continue`s here without advancing, which ends the loop: the group already covers it.
        if (begin3 === groupEnd) break;
        addUnknown(begin3);
        // At the end MeCab reads the string's NUL terminator: code 0.
        const [code, n] = begin3 < end ? decodeAt(bytes, begin3, end) : [0, 1];
        if ((cinfo.type & chars.info(code).type) === 0) break;
        begin3 += n;
      }
      if (created.length === 0) addUnknown(begin3);
    }
    // MeCab prepends each new node to its result list: visit them newest first.
    return created.reverse();
  }
}
