/** The settings row and the codec of a PostgreSQL index, read and checked together. */
import { ColtsError } from "../errors.js";
import type { ResidualCodec } from "../plaid/codec.js";
import { decodeCodec } from "../plaid/files.js";
import { query, type PgSession } from "./connection.js";
import type { Tables } from "./schema.js";

/** The settings row (schema.ts). */
export interface PgSettings {
  dim: number;
  nbits: number;
  numCentroids: number;
  poolFactor: number;
  model: string | null;
  /** The ordinal the next added document gets (ordinals are never reused). */
  nextOrdinal: number;
  /** Committed writes so far. */
  generation: number;
  trainedAvgResidual: number;
  lastAddAvgResidual: number | null;
}

interface SettingsRow {
  dim: number;
  nbits: number;
  num_centroids: number;
  pool_factor: number;
  model: string | null;
  next_ordinal: string;
  generation: string;
  trained_avg_residual: number;
  last_add_avg_residual: number | null;
  data: Buffer;
}

/** Reads the settings and the codec (INDEX_CORRUPT when either is missing or they disagree). */
export async function loadSettings(s: PgSession, t: Tables): Promise<{ settings: PgSettings; codec: ResidualCodec }> {
  const where = `${s.location.redacted} (prefix ${s.location.prefix})`;
  const r = await query<SettingsRow>(s, "read the index settings", `SELECT s.*, c.data FROM ${t.settings} s CROSS JOIN ${t.codec} c`);
  const row = r.rows[0];
  if (r.rows.length !== 1 || !row) throw new ColtsError("INDEX_CORRUPT", `${where}: the settings or the codec row is missing`, { details: { location: s.location.redacted } });
  const settings: PgSettings = {
    dim: row.dim,
    nbits: row.nbits,
    numCentroids: row.num_centroids,
    poolFactor: row.pool_factor,
    model: row.model,
    nextOrdinal: Number(row.next_ordinal),
    generation: Number(row.generation),
    trainedAvgResidual: row.trained_avg_residual,
    lastAddAvgResidual: row.last_add_avg_residual,
  };
  return { settings, codec: decodeCodec(`${where} codec`, row.data, settings) };
}
