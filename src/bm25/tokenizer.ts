/**
 * Word splitting in the manner of Lucene's `StandardTokenizer`: the word-boundary rules of Unicode
 * UAX #29, keeping only segments that contain a letter, digit or ideograph.
 *
 * What matches Lucene: letters and digits join (`b12`, `5mg`); a full stop, apostrophe or colon
 * between two letters stays inside the word (`e.g.` -> `e.g`, `o'neil`, `u.s.a`); a full stop, comma,
 * semicolon or apostrophe between two digits stays inside the number (`1,000.5`); underscores (and
 * other connector punctuation) glue words (`foo_bar`); everything else (spaces, hyphens, slashes,
 * brackets, `+`, `%`...) splits (`T-cell` -> `T`, `cell`); combining marks and format characters stay
 * with the character before them; each Han ideograph and each Hiragana character is its own token;
 * runs of Katakana, and runs of Thai/Lao/Myanmar/Khmer script, are one token each; tokens longer
 * than `maxTokenLength` UTF-16 units are cut into pieces of that length.
 *
 * The approximation (documented, not hidden): character classes come from JavaScript's Unicode
 * property escapes rather than the exact WordBreakProperty table Lucene's JFlex grammar was built
 * from, so rare characters may be classed differently; the Hebrew-letter quote rules (WB7a-c) and
 * emoji tokens (Lucene 8+ emits them, we drop them) are not reproduced.
 */

// Word-break classes. Numbers, not an enum, so the hot loop compares small integers.
const OTHER = 0;
const LETTER = 1; // ALetter (incl. Hebrew_Letter, Hangul)
const NUMERIC = 2;
const MID_LETTER = 3; // joins letters only: ':' '·'
const MID_NUM_LET = 4; // joins letters or digits: '.' '’' '‘'
const MID_NUM = 5; // joins digits only: ',' ';'
const SINGLE_QUOTE = 6; // "'" behaves like MID_NUM_LET
const EXTEND_NUM_LET = 7; // '_' and other connectors: glues anything wordy
const EXTEND = 8; // combining marks, format characters, ZWJ/ZWNJ: belong to the previous character
const KATAKANA = 9;
const IDEOGRAPH = 10; // Han and Hiragana: one token per character
const COMPLEX = 11; // South-East Asian scripts Lucene keeps as one run

const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z]/.test(ch)) ASCII[c] = LETTER;
  else if (/[0-9]/.test(ch)) ASCII[c] = NUMERIC;
}
ASCII[0x2e] = MID_NUM_LET; // .
ASCII[0x3a] = MID_LETTER; // :
ASCII[0x27] = SINGLE_QUOTE; // '
ASCII[0x2c] = MID_NUM; // ,
ASCII[0x3b] = MID_NUM; // ;
ASCII[0x5f] = EXTEND_NUM_LET; // _

const RE_EXTEND = /^[\p{M}\u200C\u200D]$/u;
const RE_FORMAT = /^\p{Cf}$/u;
const RE_IDEOGRAPH = /^[\p{Script=Han}\p{Script=Hiragana}]$/u;
const RE_KATAKANA = /^[\p{Script=Katakana}\u3031-\u3035\u309B\u309C\u30A0\u30FC\uFF70]$/u;
const RE_COMPLEX =
  /^[\p{Script=Thai}\p{Script=Lao}\p{Script=Myanmar}\p{Script=Khmer}\p{Script=Tai_Le}\p{Script=New_Tai_Lue}\p{Script=Tai_Tham}\p{Script=Tai_Viet}]$/u;
const RE_LETTER = /^\p{Alphabetic}$/u;
const RE_NUMERIC = /^\p{Nd}$/u;
const RE_EXTEND_NUM_LET = /^[\p{Pc}\u202F]$/u;
const MID_LETTER_CHARS = new Set([0x00b7, 0x0387, 0x05f4, 0x2027, 0xfe13, 0xfe55, 0xff1a]);
const MID_NUM_LET_CHARS = new Set([0x2018, 0x2019, 0x2024, 0xfe52, 0xff07, 0xff0e]);
const MID_NUM_CHARS = new Set([0x037e, 0x0589, 0x060c, 0x060d, 0x066c, 0x07f8, 0x2044, 0xfe10, 0xfe14, 0xfe50, 0xfe54, 0xff0c, 0xff1b]);

function classifySlow(cp: number): number {
  if (MID_LETTER_CHARS.has(cp)) return MID_LETTER;
  if (MID_NUM_LET_CHARS.has(cp)) return MID_NUM_LET;
  if (MID_NUM_CHARS.has(cp)) return MID_NUM;
  const ch = String.fromCodePoint(cp);
  if (RE_EXTEND.test(ch)) return EXTEND;
  // U+200B ZERO WIDTH SPACE is a format character but a word break in UAX #29.
  if (cp !== 0x200b && RE_FORMAT.test(ch)) return EXTEND;
  if (RE_IDEOGRAPH.test(ch)) return IDEOGRAPH;
  if (RE_KATAKANA.test(ch)) return KATAKANA;
  if (RE_COMPLEX.test(ch)) return COMPLEX;
  if (RE_LETTER.test(ch)) return LETTER;
  if (RE_NUMERIC.test(ch)) return NUMERIC;
  if (RE_EXTEND_NUM_LET.test(ch)) return EXTEND_NUM_LET;
  return OTHER;
}

// Non-ASCII classes are computed by regex once per distinct code point.
const cache = new Map<number, number>();
function classify(cp: number): number {
  if (cp < 128) return ASCII[cp] ?? OTHER;
  let c = cache.get(cp);
  if (c === undefined) {
    c = classifySlow(cp);
    if (cache.size < 1 << 16) cache.set(cp, c);
  }
  return c;
}

const isAH = (c: number): boolean => c === LETTER;
const isMidLetterish = (c: number): boolean => c === MID_LETTER || c === MID_NUM_LET || c === SINGLE_QUOTE;
const isMidNumish = (c: number): boolean => c === MID_NUM || c === MID_NUM_LET || c === SINGLE_QUOTE;

/** UAX #29 "no break" rules between unit `a` and unit `b` (`p` before `a`, `n` after `b`; -1 = none). */
function joins(p: number, a: number, b: number, n: number): boolean {
  if (isAH(a) && isAH(b)) return true; // WB5
  if (isAH(a) && isMidLetterish(b) && isAH(n)) return true; // WB6
  if (isAH(p) && isMidLetterish(a) && isAH(b)) return true; // WB7
  if ((a === NUMERIC || isAH(a)) && (b === NUMERIC || isAH(b))) return true; // WB8, WB9, WB10
  if (p === NUMERIC && isMidNumish(a) && b === NUMERIC) return true; // WB11
  if (a === NUMERIC && isMidNumish(b) && n === NUMERIC) return true; // WB12
  if (a === KATAKANA && b === KATAKANA) return true; // WB13
  if ((isAH(a) || a === NUMERIC || a === KATAKANA || a === EXTEND_NUM_LET) && b === EXTEND_NUM_LET) return true; // WB13a
  if (a === EXTEND_NUM_LET && (isAH(b) || b === NUMERIC || b === KATAKANA)) return true; // WB13b
  return a === COMPLEX && b === COMPLEX; // Lucene: South-East Asian runs stay whole
}

const isWordy = (c: number): boolean => c === LETTER || c === NUMERIC || c === KATAKANA || c === IDEOGRAPH || c === COMPLEX;

/** Reused per call (the tokenizer is synchronous, so one buffer set is enough). */
let starts = new Int32Array(1024);
let classes = new Uint8Array(1024);

/**
 * Splits `text` into word tokens (original case, original characters). `maxTokenLength` (UTF-16 units,
 * >= 1, default 255 as in Lucene) cuts longer tokens into pieces; analysers validate it.
 */
export function tokenize(text: string, maxTokenLength = 255): string[] {
  // 1. Units: one per character, combining marks / format characters folded into the one before (WB4).
  if (starts.length < text.length + 1) {
    starts = new Int32Array(text.length + 1);
    classes = new Uint8Array(text.length + 1);
  }
  let units = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) ?? 0;
    const cls = classify(cp);
    if (cls !== EXTEND || units === 0) {
      starts[units] = i;
      classes[units] = cls === EXTEND ? OTHER : cls;
      units++;
    }
    i += cp > 0xffff ? 2 : 1;
  }
  starts[units] = text.length;

  // 2. Segments: maximal runs of joined units; keep those with something wordy in them.
  const tokens: string[] = [];
  let segStart = 0;
  let wordy = false;
  for (let u = 0; u < units; u++) {
    const a = classes[u] ?? OTHER;
    wordy ||= isWordy(a);
    const last = u + 1 >= units;
    const join =
      !last &&
      a !== IDEOGRAPH &&
      joins(u > 0 ? (classes[u - 1] ?? OTHER) : -1, a, classes[u + 1] ?? OTHER, u + 2 < units ? (classes[u + 2] ?? OTHER) : -1);
    if (join) continue;
    if (wordy) pushToken(tokens, text.slice(starts[segStart], starts[u + 1]), maxTokenLength);
    segStart = u + 1;
    wordy = false;
  }
  return tokens;
}

/** Lucene cuts over-long tokens into `maxTokenLength` pieces (never between a surrogate pair here). */
function pushToken(out: string[], token: string, max: number): void {
  if (token.length <= max) {
    out.push(token);
    return;
  }
  for (let i = 0; i < token.length; ) {
    let end = Math.min(i + max, token.length);
    const code = token.charCodeAt(end - 1);
    if (end < token.length && code >= 0xd800 && code <= 0xdbff && end - 1 > i) end--;
    out.push(token.slice(i, end));
    i = end;
  }
}
