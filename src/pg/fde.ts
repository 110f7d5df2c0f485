/**
 * Document and query FDEs (muvera/) as the PostgreSQL index stores and queries them: the FDE
 * settings of an index (chosen at build, kept in its settings row so queries use the same ones) and
 * the text form of a pgvector `halfvec` value.
 */
import { ColtsError } from "../errors.js";
import { FdeEncoder } from "../muvera/fde.js";
import { resolveFdeConfig, type FdeConfig, type ResolvedFdeConfig } from "../muvera/config.js";

/** The FDE settings a build may choose (muvera/config.ts `FdeConfig` without `dim`, which is the index's). */
export type PgFdeOptions = Omit<FdeConfig, "dim">;

/** The FDE settings stored with an index (every default applied). */
export type PgFdeSettings = ResolvedFdeConfig;

/** Resolves a build's FDE options for the index's dim (INPUT_INVALID from muvera/config.ts for bad values). */
export function resolvePgFde(opts: PgFdeOptions | undefined, dim: number): PgFdeSettings {
  return resolveFdeConfig({ ...opts, dim });
}

/** The FdeConfig that reproduces stored settings (so query FDEs match the stored document FDEs). */
export function fdeConfigOf(s: PgFdeSettings): FdeConfig {
  return {
    dim: s.dim,
    repetitions: s.repetitions,
    simhashBits: s.simhashBits,
    projectionDim: s.projection === "identity" ? "identity" : s.projectionDim,
    ...(s.projection === "identity" ? {} : { projection: s.projection }),
    fillEmptyPartitions: s.fillEmptyPartitions,
    ...(s.finalDim === null ? {} : { finalDim: s.finalDim }),
    seed: s.seed,
  };
}

/** An encoder for stored settings; checks that it reproduces the stored size (INDEX_CORRUPT otherwise). */
export function encoderFor(s: PgFdeSettings, where: string): FdeEncoder {
  let encoder: FdeEncoder;
  try {
    encoder = new FdeEncoder(fdeConfigOf(s));
  } catch (e) {
    throw new ColtsError("INDEX_CORRUPT", `${where}: the stored FDE settings are invalid (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (encoder.size !== s.size) throw new ColtsError("INDEX_CORRUPT", `${where}: the stored FDE settings give ${encoder.size} values, the column holds ${s.size}`);
  return encoder;
}

/** The largest finite half-precision value; FDE values beyond it (far from any unit-vector encoding) are clamped. */
const HALF_MAX = 65504;

/**
 * The text form of a halfvec, e.g. "[0.12346,0,-1.5]". Five significant digits identify a half
 * (11 significant bits) and keep a 3,840-value FDE to about 30 kB of statement text; zeros (empty
 * partitions) are written "0". Values past ±65,504 are clamped, which pgvector would refuse.
 */
export function halfvecLiteral(v: Float32Array): string {
  const parts = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = Math.max(-HALF_MAX, Math.min(HALF_MAX, v[i] as number));
    parts[i] = x === 0 ? "0" : x.toPrecision(5);
  }
  return `[${parts.join(",")}]`;
}
