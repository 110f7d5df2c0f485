/** The settings row and the codec of a PostgreSQL index, read and checked together. */
import { ColtsError } from "../errors.js";
import type { ResidualCodec } from "../plaid/codec.js";
import { decodeCodec } from "../plaid/files.js";
import { query, type PgSession } from "./connection.js";
import type { PgFdeSettings } from "./fde.js";
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
  /** The FDE settings of every document FDE (queries are encoded with the same). */
  fde: PgFdeSettings;
  /** False for an index built without FDEs (the default; `fde: true` stores them): no FDE column values, no HNSW index, no "fde" retriever. */
  fdeEnabled: boolean;
  /** PostgreSQL text search configuration of the tsvector column (e.g. "english"). */
  textSearchConfig: string;
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
  fde_repetitions: number;
  fde_simhash_bits: number;
  fde_projection_dim: number;
  fde_projection: string;
  fde_fill: boolean;
  fde_final_dim: number | null;
  fde_seed: string;
  fde_size: number;
  fde_enabled: boolean;
  text_search_config: string;
  data: Buffer;
}

/** Reads the settings and the codec (INDEX_CORRUPT when either is missing or they disagree). */
export async function loadSettings(s: PgSession, t: Tables): Promise<{ settings: PgSettings; codec: ResidualCodec }> {
  const where = `${s.location.redacted} (prefix ${s.location.prefix})`;
  const r = await query<SettingsRow>(s, "read the index settings", `SELECT s.*, c.data FROM ${t.settings} s CROSS JOIN ${t.codec} c`);
  const row = r.rows[0];
  if (r.rows.length !== 1 || !row) throw new ColtsError("INDEX_CORRUPT", `${where}: the settings or the codec row is missing`, { details: { location: s.location.redacted } });
  const settings = settingsOf(row, where);
  return { settings, codec: decodeCodec(`${where} codec`, row.data, settings) };
}

/**
 * Reads the settings row alone (INDEX_CORRUPT when it is missing): for summaries, which need counts
 * and parameters but not the codec (its centroids are 32 MiB at K 65,536, dim 128).
 */
export async function loadSettingsOnly(s: PgSession, t: Tables): Promise<PgSettings> {
  const where = `${s.location.redacted} (prefix ${s.location.prefix})`;
  const r = await query<Omit<SettingsRow, "data">>(s, "read the index settings", `SELECT * FROM ${t.settings}`);
  const row = r.rows[0];
  if (r.rows.length !== 1 || !row) throw new ColtsError("INDEX_CORRUPT", `${where}: the settings row is missing`, { details: { location: s.location.redacted } });
  return settingsOf(row, where);
}

function settingsOf(row: Omit<SettingsRow, "data">, where: string): PgSettings {
  return {
    dim: row.dim,
    nbits: row.nbits,
    numCentroids: row.num_centroids,
    poolFactor: row.pool_factor,
    model: row.model,
    nextOrdinal: Number(row.next_ordinal),
    generation: Number(row.generation),
    trainedAvgResidual: row.trained_avg_residual,
    lastAddAvgResidual: row.last_add_avg_residual,
    fde: fdeSettingsOf(row, where),
    fdeEnabled: row.fde_enabled,
    textSearchConfig: row.text_search_config,
  };
}

function fdeSettingsOf(row: Omit<SettingsRow, "data">, where: string): PgFdeSettings {
  const projection = row.fde_projection;
  if (projection !== "identity" && projection !== "sparse" && projection !== "dense") throw new ColtsError("INDEX_CORRUPT", `${where}: unknown FDE projection ${JSON.stringify(projection)}`);
  const partitions = 2 ** row.fde_simhash_bits;
  return {
    dim: row.dim,
    repetitions: row.fde_repetitions,
    simhashBits: row.fde_simhash_bits,
    partitions,
    projectionDim: row.fde_projection_dim,
    projection,
    fillEmptyPartitions: row.fde_fill,
    finalDim: row.fde_final_dim,
    seed: Number(row.fde_seed),
    innerSize: row.fde_repetitions * partitions * row.fde_projection_dim,
    size: row.fde_size,
  };
}

/** The settings row's FDE and text search columns, in `FDE_SETTINGS_COLUMNS`' order. */
export function fdeSettingsValues(fde: PgFdeSettings, enabled: boolean, textSearchConfig: string): unknown[] {
  return [fde.repetitions, fde.simhashBits, fde.projectionDim, fde.projection, fde.fillEmptyPartitions, fde.finalDim, fde.seed, fde.size, enabled, textSearchConfig];
}

/** Column list matching `fdeSettingsValues`. */
export const FDE_SETTINGS_COLUMNS = "fde_repetitions, fde_simhash_bits, fde_projection_dim, fde_projection, fde_fill, fde_final_dim, fde_seed, fde_size, fde_enabled, text_search_config";
