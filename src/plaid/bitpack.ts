/**
 * Bit packing of residual bucket indices, byte-for-byte as ColBERTv2 / PLAID stores them
 * (`ResidualCodec.binarize` in colbert/indexing/codecs/residual.py).
 *
 * ColBERT takes, per vector, the bucket index b[d] (0 .. 2^nbits - 1) of every dimension d and expands
 * it to its nbits bits, least significant bit first:
 *     bits = [b[0] & 1, (b[0] >> 1) & 1, ..., b[1] & 1, (b[1] >> 1) & 1, ...]   (dim * nbits bits)
 * and packs that bit string with `numpy.packbits` / `cupy.packbits`, whose default bit order is
 * big-endian within a byte: the first bit of each group of 8 lands in the most significant bit (0x80).
 * So, for bit number p of a vector's bit string (p = d * nbits + j, j = bit j of b[d]):
 *     byte = p >> 3,   mask = 0x80 >> (p & 7).
 * Consequence (the reason for ColBERT's `reversed_bit_map`): inside a byte each nbits-wide field holds
 * its bucket index with the bits reversed, and the fields run left to right in dimension order.
 * Example, nbits = 2, buckets [1, 2, 3, 0] -> bits 1,0, 0,1, 1,1, 0,0 -> 0b10011100 = 0x9c.
 *
 * Bytes per vector = dim * nbits / 8, so dim * nbits must be a multiple of 8.
 */
import { ColtsError } from "../errors.js";

/** Residual bits per dimension supported by the PLAID codec. */
export type Nbits = 1 | 2 | 4;

/** True for 1, 2 and 4 (the widths PLAID supports: a field never straddles a byte). */
export function isNbits(x: unknown): x is Nbits {
  return x === 1 || x === 2 || x === 4;
}

/** Packed bytes per vector: dim * nbits / 8. Throws INPUT_INVALID if that is not a whole number. */
export function packedBytesPerVector(dim: number, nbits: Nbits): number {
  if (!isNbits(nbits)) throw new ColtsError("INPUT_INVALID", `nbits must be 1, 2 or 4, got ${String(nbits)}`);
  if (!Number.isInteger(dim) || dim <= 0 || (dim * nbits) % 8 !== 0) {
    throw new ColtsError("INPUT_INVALID", `dim * nbits must be a positive multiple of 8 (dim ${dim}, nbits ${nbits})`);
  }
  return (dim * nbits) / 8;
}

/**
 * Packs bucket indices as ColBERT does.
 * buckets: [n, dim] row-major, each value in [0, 2^nbits); returns packed: [n, dim * nbits / 8] row-major.
 */
export function packBits(buckets: Uint8Array, n: number, dim: number, nbits: Nbits): Uint8Array {
  const bytesPerVector = packedBytesPerVector(dim, nbits);
  if (buckets.length !== n * dim) {
    throw new ColtsError("INPUT_INVALID", `packBits: expected ${n * dim} bucket indices ([${n}, ${dim}]), got ${buckets.length}`);
  }
  const limit = 1 << nbits;
  const out = new Uint8Array(n * bytesPerVector);
  for (let row = 0; row < n; row++) {
    const inBase = row * dim; // first bucket of this vector
    const outBase = row * bytesPerVector; // first byte of this vector (vectors start on a byte boundary)
    for (let d = 0; d < dim; d++) {
      const b = buckets[inBase + d] as number;
      if (b >= limit) throw new ColtsError("INPUT_INVALID", `packBits: bucket ${b} at [${row}, ${d}] does not fit in ${nbits} bits`);
      for (let j = 0; j < nbits; j++) {
        // Bit j of the bucket (LSB first, ColBERT's `residuals >> arange_bits & 1`) ...
        if (((b >> j) & 1) === 0) continue;
        // ... is bit number p of this vector's bit string ...
        const p = d * nbits + j;
        // ... which numpy.packbits (bitorder "big") puts into byte p / 8 at position 7 - p % 8.
        out[outBase + (p >> 3)] = (out[outBase + (p >> 3)] as number) | (0x80 >> (p & 7));
      }
    }
  }
  return out;
}

/**
 * Decode table: for every byte value, the 8 / nbits bucket indices it holds, in dimension order
 * (ColBERT's `reversed_bit_map` followed by its `decompression_lookup_table`, in one step).
 * Returns a [256, 8 / nbits] row-major table.
 */
export function unpackTable(nbits: Nbits): Uint8Array {
  const perByte = 8 / nbits;
  const table = new Uint8Array(256 * perByte);
  for (let byte = 0; byte < 256; byte++) {
    for (let f = 0; f < perByte; f++) {
      let b = 0;
      for (let j = 0; j < nbits; j++) {
        // Field f, bit j sits at bit-string position p = f * nbits + j, i.e. at mask 0x80 >> p.
        const p = f * nbits + j;
        if ((byte & (0x80 >> p)) !== 0) b |= 1 << j; // it is bit j (LSB first) of the bucket
      }
      table[byte * perByte + f] = b;
    }
  }
  return table;
}

/**
 * Inverse of `packBits`.
 * packed: [n, dim * nbits / 8] row-major; returns buckets: [n, dim] row-major.
 */
export function unpackBits(packed: Uint8Array, n: number, dim: number, nbits: Nbits): Uint8Array {
  const bytesPerVector = packedBytesPerVector(dim, nbits);
  if (packed.length !== n * bytesPerVector) {
    throw new ColtsError("INPUT_INVALID", `unpackBits: expected ${n * bytesPerVector} bytes ([${n}, ${bytesPerVector}]), got ${packed.length}`);
  }
  const perByte = 8 / nbits;
  const table = unpackTable(nbits);
  const out = new Uint8Array(n * dim);
  // Vectors are whole bytes long, so the packed stream decodes byte by byte into consecutive dimensions.
  for (let i = 0; i < packed.length; i++) {
    const t = (packed[i] as number) * perByte;
    const o = i * perByte;
    for (let f = 0; f < perByte; f++) out[o + f] = table[t + f] as number;
  }
  return out;
}
