/** Codec and tombstone files of an index ("plaid-codec" v1, "plaid-tombstones" v1). */
import path from "node:path";
import { ColtsError } from "../errors.js";
import { getArray, readArrays, writeArrays } from "../store/arrays.js";
import { ResidualCodec } from "./codec.js";
import type { Manifest } from "./manifest.js";

export function writeCodec(file: string, codec: ResidualCodec): void {
  const p = codec.serialize();
  writeArrays(
    file,
    "plaid-codec",
    1,
    { centroids: p.centroids, bucketCutoffs: p.bucketCutoffs, bucketWeights: p.bucketWeights },
    { dim: p.dim, nbits: p.nbits, numCentroids: p.numCentroids, avgResidual: p.avgResidual },
  );
}

export function readCodec(dir: string, m: Manifest, verify = true): ResidualCodec {
  const file = path.join(dir, m.codecFile);
  const f = readArrays(file, { kind: "plaid-codec", maxVersion: 1, verify });
  const meta = f.meta as { dim?: number; nbits?: number; numCentroids?: number; avgResidual?: number };
  if (meta.dim !== m.dim || meta.nbits !== m.nbits || meta.numCentroids !== m.numCentroids) {
    throw new ColtsError("INDEX_CORRUPT", `${file}: codec (dim ${meta.dim}, nbits ${meta.nbits}, ${meta.numCentroids} centroids) does not match the manifest`, {
      details: { file },
    });
  }
  try {
    return ResidualCodec.deserialize({
      dim: m.dim,
      nbits: m.nbits,
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
