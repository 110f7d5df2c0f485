/** Codec and tombstone files of an index ("plaid-codec" v1, "plaid-tombstones" v1); the codec also as bytes. */
import path from "node:path";
import { ColtsError } from "../errors.js";
import { decodeArrays, encodeArrays, getArray, readArrays, writeArrays, type ArraysFile, type StoredArray } from "../store/arrays.js";
import { ResidualCodec } from "./codec.js";
import type { Manifest } from "./manifest.js";

const CODEC_KIND = "plaid-codec";
const CODEC_VERSION = 1;

/** The codec's arrays and scalars as the container stores them. */
function codecContent(codec: ResidualCodec): { arrays: Record<string, StoredArray>; meta: Record<string, unknown> } {
  const p = codec.serialize();
  return {
    arrays: { centroids: p.centroids, bucketCutoffs: p.bucketCutoffs, bucketWeights: p.bucketWeights },
    meta: { dim: p.dim, nbits: p.nbits, numCentroids: p.numCentroids, avgResidual: p.avgResidual },
  };
}

export function writeCodec(file: string, codec: ResidualCodec): void {
  const { arrays, meta } = codecContent(codec);
  writeArrays(file, CODEC_KIND, CODEC_VERSION, arrays, meta);
}

/** The bytes of a codec file, for stores other than a folder (the PostgreSQL location's bytea). */
export function encodeCodec(codec: ResidualCodec): Buffer {
  const { arrays, meta } = codecContent(codec);
  return Buffer.concat(encodeArrays(CODEC_KIND, CODEC_VERSION, arrays, meta).parts);
}

/** The sizes a stored codec must have (its index's record of them). */
export interface CodecShape {
  dim: number;
  nbits: number;
  numCentroids: number;
}

/** Decodes `encodeCodec` bytes, checked against `expected`; `name` names the source in errors (INDEX_CORRUPT / INDEX_VERSION). */
export function decodeCodec(name: string, buf: Buffer, expected: CodecShape, verify = true): ResidualCodec {
  return codecFrom(name, decodeArrays(name, buf, { kind: CODEC_KIND, maxVersion: CODEC_VERSION, verify }), expected);
}

export function readCodec(dir: string, m: Manifest, verify = true): ResidualCodec {
  const file = path.join(dir, m.codecFile);
  return codecFrom(file, readArrays(file, { kind: CODEC_KIND, maxVersion: CODEC_VERSION, verify }), m);
}

function codecFrom(file: string, f: ArraysFile, m: CodecShape): ResidualCodec {
  const meta = f.meta as { dim?: number; nbits?: number; numCentroids?: number; avgResidual?: number };
  if (meta.dim !== m.dim || meta.nbits !== m.nbits || meta.numCentroids !== m.numCentroids) {
    throw new ColtsError("INDEX_CORRUPT", `${file}: codec (dim ${meta.dim}, nbits ${meta.nbits}, ${meta.numCentroids} centroids) does not match the manifest`, {
      details: { file },
    });
  }
  try {
    return ResidualCodec.deserialize({
      dim: m.dim,
      nbits: m.nbits as ResidualCodec["nbits"],
      numCentroids: m.numCentroids,
      centroids: getArray(f, "centroids", Float32Array, file),
      bucketCutoffs: getArray(f, "bucketCutoffs", Float32Array, file),
      bucketWeights: getArray(f, "bucketWeights", Float32Array, file),
      avgResidual: meta.avgResidual ?? 0,
    });
  } catch (cause) {
    if (cause instanceof ColtsError && cause.code === "INDEX_CORRUPT") throw cause;
    throw new ColtsError("INDEX_CORRUPT", `${file}: ${(cause as Error).message}`, { cause, details: { file } });
  }
}

export function writeTombstones(file: string, deleted: ReadonlySet<number>): void {
  writeArrays(file, "plaid-tombstones", 1, { ordinals: Uint32Array.from([...deleted].sort((a, b) => a - b)) });
}

export function readTombstones(dir: string, m: Manifest, verify = true): Set<number> {
  if (!m.tombstonesFile) return new Set();
  const file = path.join(dir, m.tombstonesFile);
  return new Set(getArray(readArrays(file, { kind: "plaid-tombstones", maxVersion: 1, verify }), "ordinals", Uint32Array, file));
}
