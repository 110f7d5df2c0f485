/**
 * Lucene's one-byte document-length norms (`org.apache.lucene.util.SmallFloat`, Lucene 8+).
 *
 * Lucene does not store a document's length; it stores `intToByte4(length)`, a byte that is exact for
 * lengths 0..23 and keeps 4 significant bits above that (so 100 reads back as 96, 1000 as 984).
 * BM25 then scores with the decoded length. Reproducing this quantisation is what makes our scores
 * equal Anserini's: without it long documents are scored with their true length and rankings drift.
 */

/** Largest length a norm can encode (Lucene lengths are Java ints). */
export const MAX_LENGTH = 2 ** 31 - 1;

/** Encodes 0..2^31-1 with 4 significant bits: 3 mantissa bits (leading one implicit) + shift. */
export function longToInt4(i: number): number {
  if (!Number.isInteger(i) || i < 0 || i > MAX_LENGTH) throw new RangeError(`longToInt4: not an integer in 0..2^31-1: ${i}`);
  const numBits = 32 - Math.clz32(i);
  if (numBits < 4) return i; // "subnormal": stored as is
  const shift = numBits - 4;
  // Keep the 4 most significant bits, drop the leading (implicit) one, store shift + 1 above them.
  let encoded = (i >>> shift) & 0x07;
  encoded |= (shift + 1) << 3;
  return encoded;
}

/** Inverse of `longToInt4` (rounds down to the representable value). */
export function int4ToLong(i: number): number {
  const bits = i & 0x07;
  const shift = (i >>> 3) - 1;
  return shift === -1 ? bits : (bits | 0x08) * 2 ** shift; // no bit shift: may exceed 2^31
}

const MAX_INT4 = longToInt4(MAX_LENGTH); // 231
/** Byte values below this are lengths stored exactly (24 in Lucene: 255 - MAX_INT4). */
export const NUM_FREE_VALUES = 255 - MAX_INT4;

/** Lucene `SmallFloat.intToByte4`: a document length to its norm byte (0..255). */
export function intToByte4(i: number): number {
  if (!Number.isInteger(i) || i < 0 || i > MAX_LENGTH) throw new RangeError(`intToByte4: not an integer in 0..2^31-1: ${i}`);
  if (i < NUM_FREE_VALUES) return i;
  return NUM_FREE_VALUES + longToInt4(i - NUM_FREE_VALUES);
}

/** Lucene `SmallFloat.byte4ToInt`: a norm byte (0..255) to the length BM25 uses. */
export function byte4ToInt(b: number): number {
  const i = b & 0xff;
  if (i < NUM_FREE_VALUES) return i;
  return Math.min(NUM_FREE_VALUES + int4ToLong(i - NUM_FREE_VALUES), MAX_LENGTH);
}

/** `LENGTH_TABLE` of Lucene's BM25Similarity: decoded length for each norm byte. */
export const LENGTH_TABLE: Float64Array = Float64Array.from({ length: 256 }, (_, b) => byte4ToInt(b));
