/**
 * Writes to a PostgreSQL index: build, add, delete. Each is one transaction under the index's write
 * lock (schema.ts `lockForWrite`), so a failure or a crash leaves the previous state, as the folder
 * index's manifest switch does. The codec is trained by the same code as a folder build
 * (plaid/train-codec.ts) and stored as the bytes of the codec file. Each document row also gets its
 * MUVERA FDE (made from its pooled, uncompressed vectors: the first stage of search) and its
 * tsvector (keyword search), and its ordinal goes to the IVF lists of its centroids (ivf.ts, written
 * once at the end of the write); a build creates the HNSW and GIN indexes after its bulk insert.
 */
import { ColtsError } from "../errors.js";
import type { ResidualCodec, CodecKernelOptions } from "../plaid/codec.js";
import { encodeCodec } from "../plaid/files.js";
import { poolDoc, type EmbeddedDoc, type EmbeddingSource } from "../plaid/source.js";
import { BatchWriter, type CompressedBatch } from "../plaid/batch-writer.js";
import { checkDoc, trainCodec, type CodecTrainingOptions } from "../plaid/train-codec.js";
import type { FdeEncoder } from "../muvera/fde.js";
import { connect, disconnect, inTransaction, query, type PgSession } from "./connection.js";
import { encoderFor, halfvecLiteral, resolvePgFde, type PgFdeOptions, type PgFdeSettings } from "./fde.js";
import { FDE_SETTINGS_COLUMNS, fdeSettingsValues, loadSettings } from "./settings.js";
import { bytesOf, checkStorable } from "./rows.js";
import { appendIvf, IvfPairs } from "./ivf.js";
import {
  checkPgvector,
  checkSchema,
  createStatements,
  dropStatements,
  indexExists,
  indexStatements,
  lockForWrite,
  resolveHnsw,
  SCHEMA_FORMAT,
  SCHEMA_VERSION,
  SHARD_FORMAT,
  SHARDED_SCHEMA_VERSION,
  tables,
  type HnswBuildParams,
  type TablePart,
  type Tables,
} from "./schema.js";
import { connectShards, disconnectAll, inShardTransactions, routeIds, setUpCoordinator, setUpShard, shardNodes, tearDownCoordinator, tearDownShard, type ShardNode } from "./sharding.js";
import { byPart, countLive, deleteIds, maxOrdinal, refuseLive, sessionOf, singleTarget, withTargets, type WriteTargets } from "./write-targets.js";
import { parsePgUrl } from "./url.js";

/** Documents per INSERT statement when `insertDocs` is not given. */
export const DEFAULT_INSERT_DOCS = 500;

/** How rows are written; shared by build and add. */
export interface PgWriteOptions {
  /**
   * Documents per INSERT statement (and per compression batch). Default 500; range 1..8000 (at most 5
   * bound values a document per statement, PostgreSQL takes 65,535). More: fewer round trips, bigger
   * statements (each document's FDE is about 30 kB of text at the default FDE size).
   */
  insertDocs?: number;
  /** Progress of each phase (as the folder build's). */
  onProgress?: CodecTrainingOptions["onProgress"];
}

/** How `buildPgIndex` trains its codec (CodecTrainingOptions) and writes the index; every field is optional. */
export interface PgBuildOptions extends CodecTrainingOptions, PgWriteOptions {
  /** Model recorded with the index (queries must be encoded with it). Default null. */
  model?: string | null;
  /**
   * Replace an index already under this prefix, whatever its schema version (this is how a location
   * written by an older colts is brought to the current schema). Default false (refuse).
   */
  overwrite?: boolean;
  /**
   * MUVERA FDEs and their HNSW index, the first stage of the "fde" retriever. Default false: no FDE
   * values and no HNSW index. The default "plaid" retriever (IVF lists) needs neither, and at 100k
   * documents they were most of the index's bytes and build time (bench/RESULTS.md, "PostgreSQL: IVF
   * first stage"); the "fde" retriever is refused on an index built without them. `true`: FDEs with
   * muvera's defaults (R 15, k_sim 6, d_proj 4, sparse projection, no fill, seed 1: 3,840 values);
   * an object: those settings (muvera/config.ts `FdeConfig`; the index's dim is used). Recorded with
   * the index; queries use the same. At most 4,000 values (pgvector's HNSW limit for halfvec). Larger
   * FDEs approximate MaxSim better and cost proportionally more storage and HNSW time.
   */
  fde?: PgFdeOptions | boolean;
  /**
   * PostgreSQL text search configuration of the keyword retriever (stemming, stop words): any
   * configuration the server knows, e.g. "english" (default) or "simple" (lower-casing only, no
   * stemming, no stop words: for languages PostgreSQL has no configuration for). Recorded with the index.
   */
  textSearchConfig?: string;
  /**
   * Shard nodes (`postgres://` URLs, a power of two of them) for a sharded index whose coordinator is
   * the build's URL (sharding.ts): documents are spread over them by a hash of their id, searches fan
   * out through PL/Proxy on the coordinator, and every later call names only the coordinator. The
   * shards use the coordinator's role, password and prefix; PL/Proxy must be installed on the
   * coordinator and pgvector on every shard. Default: none (one node). More shards: more memory and
   * cores for the HNSW indexes and scans; every search pays one round trip to each.
   */
  shards?: readonly string[];
  /**
   * pgvector's HNSW build parameters of the FDE index (schema.ts `HnswBuildParams`): `m` links per
   * node (2..100, default 16) and `efConstruction` (4..1000, at least 2m, default 64). Larger builds
   * a better connected graph (the first stage finds more of the true FDE neighbours at the same
   * ef_search) at the price of build time and index size; adds and deletes keep the built index's.
   */
  hnsw?: Partial<HnswBuildParams>;
}

/** What a write left behind. */
export interface PgWriteResult {
  /** Committed writes so far (1 after the build). */
  generation: number;
  /** Live documents after the write. */
  liveDocuments: number;
  /** Documents written by this call. */
  written: number;
}

function insertDocs(opts: PgWriteOptions): number {
  const n = opts.insertDocs ?? DEFAULT_INSERT_DOCS;
  if (!Number.isInteger(n) || n < 1 || n > 8000) throw new ColtsError("INPUT_INVALID", `insertDocs must be an integer in 1..8000, got ${n}`);
  return n;
}

/**
 * Compresses documents batch by batch and inserts each one's rows on its part, giving ordinals from
 * `next` on (in input order, whatever the part); `finishAll` ends the write with the IVF lists.
 */
class RowWriter extends BatchWriter {
  /** Each part's (centroid, ordinal) pairs so far. */
  private readonly ivf = new Map<number, IvfPairs>();

  constructor(
    private readonly targets: WriteTargets,
    private readonly t: Tables,
    codec: ResidualCodec,
    public next: number,
    batchDocs: number,
    kernel: CodecKernelOptions,
    /** Null for an index built without FDEs: the rows' fde stays NULL. */
    private readonly fde: FdeEncoder | null,
    private readonly textSearchConfig: string,
  ) {
    super(codec, batchDocs, kernel);
  }

  protected async write({ docs, codes, residuals }: CompressedBatch): Promise<void> {
    const bpv = this.codec.bytesPerVector;
    const dim = this.codec.dim;
    let v = 0;
    const rows = docs.map((d, i) => {
      const ids = codes.subarray(v, v + d.n);
      const row = { ordinal: this.next + i, d, ids, codes: bytesOf(ids), residuals: bytesOf(residuals.subarray(v * bpv, (v + d.n) * bpv)) };
      v += d.n;
      return row;
    });
    for (const [part, group] of await byPart(this.targets, rows, (r) => r.d.id)) {
      const s = sessionOf(this.targets, part);
      // $1 (the text search configuration) and $2 (the part) are shared by every row; the text is bound once and used twice.
      const docValues: unknown[] = [this.textSearchConfig, part];
      const vecValues: unknown[] = [];
      const pairs = this.ivf.get(part) ?? new IvfPairs();
      this.ivf.set(part, pairs);
      for (const { ordinal, d, ids, codes: c, residuals: r } of group) {
        pairs.add(ordinal, ids);
        const fde = this.fde ? halfvecLiteral(this.fde.document(d.vectors.subarray(0, d.n * dim), d.n)) : null;
        docValues.push(ordinal, d.id, d.metadata === undefined || d.metadata === null ? null : JSON.stringify(d.metadata), d.text ?? null, fde);
        vecValues.push(ordinal, d.n, c, r);
      }
      const docRows = group.map((_, i) => {
        const p = (j: number): string => `$${3 + i * 5 + j}`;
        return `(${p(0)}::bigint, ${p(1)}::text, ${p(2)}::jsonb, ${p(3)}::text, ${p(4)}::halfvec, to_tsvector($1::regconfig, ${p(3)}::text), $2::integer)`;
      });
      const vecRows = group.map((_, i) => `(${["::bigint", "::integer", "::bytea", "::bytea"].map((c, j) => `$${i * 4 + j + 1}${c}`).join(", ")})`);
      await query(s, "insert documents", `INSERT INTO ${this.t.documents} (ordinal, id, meta, text, fde, tsv, shard) VALUES ${docRows.join(", ")}`, docValues);
      await query(s, "insert vectors", `INSERT INTO ${this.t.vectors} (ordinal, doclen, codes, residuals) VALUES ${vecRows.join(", ")}`, vecValues);
    }
    this.next += docs.length;
  }

  /** Writes the last batch, then each part's IVF pairs. */
  async finishAll(): Promise<void> {
    await this.finish();
    for (const [part, pairs] of [...this.ivf.entries()].sort((a, b) => a[0] - b[0])) await appendIvf(sessionOf(this.targets, part), this.t, pairs);
    this.ivf.clear();
  }
}

/** The text search configuration when a build names none. */
export const DEFAULT_TEXT_SEARCH_CONFIG = "english";

/** The configuration's canonical name; INPUT_INVALID when the server has no such text search configuration (by unqualified name, on the search path). */
async function checkTextSearchConfig(s: PgSession, name: string): Promise<string> {
  const r = await query<{ name: string }>(
    s,
    "look up the text search configuration",
    "SELECT c.oid::regconfig::text AS name FROM pg_ts_config c WHERE c.cfgname = $1::text AND pg_ts_config_is_visible(c.oid)",
    [name],
  );
  const found = r.rows[0]?.name;
  if (typeof found !== "string") {
    throw new ColtsError("INPUT_INVALID", `${s.location.redacted} has no text search configuration ${JSON.stringify(name)} (e.g. "english", "simple"; SELECT cfgname FROM pg_ts_config lists them)`, {
      details: { textSearchConfig: name },
    });
  }
  return found;
}

/** Checked, pooled documents of one input batch; INPUT_INVALID for an id repeated in the input. */
function prepare(batch: EmbeddedDoc[], seen: Set<string>, dim: number, poolFactor: number): EmbeddedDoc[] {
  return batch.map((d) => {
    checkDoc(d, dim);
    if (seen.has(d.id)) throw new ColtsError("INPUT_INVALID", `duplicate document id ${JSON.stringify(d.id)} in the input`, { details: { id: d.id } });
    seen.add(d.id);
    checkStorable(d);
    return poolDoc(d, dim, poolFactor);
  });
}

/** The sessions a build writes documents over: the location itself, or each shard. */
interface BuildTargets {
  coordinator: PgSession;
  /** One per part; [coordinator] for one node. */
  data: PgSession[];
  nodes: ShardNode[] | null;
}

/** True when any of the build's sessions already holds an index (or a shard of one) under the prefix. */
async function anyIndex(b: BuildTargets): Promise<boolean> {
  for (const s of new Set([b.coordinator, ...b.data])) if (await indexExists(s)) return true;
  return false;
}

/** Drops whatever index (or shard of one) the session holds under its prefix. */
async function dropAll(s: PgSession, t: Tables): Promise<void> {
  await tearDownCoordinator(s);
  await tearDownShard(s);
  for (const sql of dropStatements(t)) await query(s, "drop the previous index", sql);
}

/** Creates the tables of one location kind and its schema row. */
async function createTables(s: PgSession, t: Tables, fdeSize: number, part: TablePart): Promise<void> {
  for (const sql of createStatements(t, fdeSize, part)) await query(s, "create the index tables", sql);
  const [format, version] = part === "shard" ? [SHARD_FORMAT, SHARDED_SCHEMA_VERSION] : [SCHEMA_FORMAT, part === "coordinator" ? SHARDED_SCHEMA_VERSION : SCHEMA_VERSION];
  await query(s, "record the schema version", `INSERT INTO ${t.schema} (format, version) VALUES ($1, $2)`, [format, version]);
}

/**
 * Builds a new index at a PostgreSQL location (creating its tables) from embedded documents; with
 * `shards`, a sharded index whose coordinator is `url` (sharding.ts).
 */
export async function buildPgIndex(url: string, source: EmbeddingSource, dim: number, opts: PgBuildOptions = {}): Promise<PgWriteResult> {
  const location = parsePgUrl(url);
  const batchDocs = insertDocs(opts);
  const hnsw = resolveHnsw(opts.hnsw);
  const fdeEnabled = opts.fde !== undefined && opts.fde !== false;
  if (opts.hnsw !== undefined && !fdeEnabled) {
    throw new ColtsError("INPUT_INVALID", "hnsw settings shape the HNSW index over the FDEs, and this build stores none (FDEs are off by default): enable them with fde: true (CLI: --fde) or leave the hnsw settings out", {
      details: { field: "hnsw" },
    });
  }
  const fde = resolvePgFde(typeof opts.fde === "object" ? opts.fde : undefined, dim);
  const nodes = opts.shards !== undefined ? shardNodes(location, opts.shards) : null;
  if (source.count < 1) throw new ColtsError("INPUT_INVALID", "cannot build an index from an empty corpus");
  const s = await connect(location);
  let shards: PgSession[] = [];
  const already = (): ColtsError =>
    new ColtsError("INPUT_INVALID", `${location.redacted} already holds an index under prefix ${location.prefix}${nodes ? " (on the coordinator or a shard)" : ""}; add documents to it or rebuild with overwrite`, {
      details: { location: location.redacted },
    });
  try {
    if (nodes) shards = await connectShards(location, nodes);
    const b: BuildTargets = { coordinator: s, data: nodes ? shards : [s], nodes };
    // Refuse before training (minutes on a large corpus); checked again under the lock.
    if (!opts.overwrite && (await anyIndex(b))) throw already();
    let textSearchConfig = opts.textSearchConfig ?? DEFAULT_TEXT_SEARCH_CONFIG;
    for (const d of b.data) {
      await checkPgvector(d, true);
      textSearchConfig = await checkTextSearchConfig(d, textSearchConfig);
    }
    // The sample is read again in the index pass (no folder to spill a large sample to); the folder
    // index keeps it (writer.ts).
    const { codec } = await trainCodec(source, dim, opts);
    try {
      return await inTransaction(s, () => writeBuild(b, source, dim, opts, { codec, fde, fdeEnabled, hnsw, textSearchConfig, batchDocs, already }));
    } finally {
      await codec.releaseKernels();
    }
  } finally {
    await disconnectAll(shards);
    await disconnect(s);
  }
}

/** What writeBuild needs besides the targets and the input. */
interface BuildPlan {
  codec: ResidualCodec;
  fde: PgFdeSettings;
  /** False: no FDEs, no HNSW index. */
  fdeEnabled: boolean;
  textSearchConfig: string;
  hnsw: HnswBuildParams;
  batchDocs: number;
  already: () => ColtsError;
}

/** The build's writes, inside the coordinator's transaction (and, sharded, one transaction per shard). */
async function writeBuild(b: BuildTargets, source: EmbeddingSource, dim: number, opts: PgBuildOptions, plan: BuildPlan): Promise<PgWriteResult> {
  const s = b.coordinator;
  const t = tables(s.location.prefix);
  await lockForWrite(s);
  if (await indexExists(s)) {
    if (!opts.overwrite) throw plan.already();
    await dropAll(s, t);
  }
  await createTables(s, t, plan.fde.size, b.nodes ? "coordinator" : "all");
  await query(s, "store the codec", `INSERT INTO ${t.codec} (data) VALUES ($1)`, [encodeCodec(plan.codec)]);
  if (b.nodes) await setUpCoordinator(s, b.nodes);
  const writeShards = async (): Promise<number> => {
    if (b.nodes) {
      for (const [part, shard] of b.data.entries()) {
        await lockForWrite(shard);
        if (await indexExists(shard)) {
          if (!opts.overwrite) throw plan.already();
          await dropAll(shard, t);
        }
        await createTables(shard, t, plan.fde.size, "shard");
        await setUpShard(shard, t, part, b.data.length);
      }
    }
    const targets: WriteTargets = b.nodes ? { sessions: b.data, route: (ids) => routeIds(s, ids, b.data.length) } : singleTarget(s);
    const encoder = plan.fdeEnabled ? encoderFor(plan.fde, s.location.redacted) : null;
    const writer = new RowWriter(targets, t, plan.codec, 0, plan.batchDocs, opts.assignment ? { assignment: opts.assignment } : {}, encoder, plan.textSearchConfig);
    const seen = new Set<string>();
    for await (const batch of source.batches()) {
      await writer.push(prepare(batch, seen, dim, opts.poolFactor ?? 1));
      opts.onProgress?.({ phase: "index", done: seen.size, total: source.count });
    }
    await writer.finishAll();
    // After the bulk insert: one HNSW build over every FDE is much faster than row-by-row inserts;
    // the shards build theirs at the same time.
    await Promise.all(b.data.map(async (d) => {
      for (const sql of indexStatements(t, plan.hnsw, plan.fdeEnabled)) await query(d, "create the search indexes", sql);
    }));
    return writer.next;
  };
  const written = b.nodes ? await inShardTransactions(b.data, writeShards) : await writeShards();
  await query(
    s,
    "store the settings",
    `INSERT INTO ${t.settings} (dim, nbits, num_centroids, pool_factor, model, next_ordinal, generation, trained_avg_residual, ${FDE_SETTINGS_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    [dim, plan.codec.nbits, plan.codec.numCentroids, opts.poolFactor ?? 1, opts.model ?? null, written, plan.codec.avgResidual, ...fdeSettingsValues(plan.fde, plan.fdeEnabled, plan.textSearchConfig)],
  );
  return { generation: 1, liveDocuments: written, written };
}

/**
 * Runs `fn` on an existing index in one transaction under its write lock, with its write targets
 * (write-targets.ts; INDEX_NOT_FOUND / INDEX_VERSION first when the location holds no index of
 * this schema). The coordinator commits after the shards.
 */
async function withWrite<T>(url: string, fn: (s: PgSession, t: Tables, targets: WriteTargets) => Promise<T>): Promise<T> {
  const location = parsePgUrl(url);
  const s = await connect(location);
  try {
    const { sharded } = await checkSchema(s);
    return await inTransaction(s, async () => {
      await lockForWrite(s);
      return withTargets(s, sharded, (targets) => fn(s, tables(location.prefix), targets));
    });
  } finally {
    await disconnect(s);
  }
}

/** Appends documents with the index's codec. Ids already live in the index, or repeated in the input, are refused. */
export async function addToPgIndex(url: string, source: EmbeddingSource, opts: PgWriteOptions = {}): Promise<PgWriteResult> {
  const batchDocs = insertDocs(opts);
  return withWrite(url, async (s, t, targets) => {
    const { settings, codec } = await loadSettings(s, t);
    try {
      const encoder = settings.fdeEnabled ? encoderFor(settings.fde, s.location.redacted) : null;
      // Past every part's largest ordinal too: a sharded write killed between two shards' commits
      // leaves rows the settings row does not count.
      const first = Math.max(settings.nextOrdinal, (await maxOrdinal(targets, t)) + 1);
      const writer = new RowWriter(targets, t, codec, first, batchDocs, {}, encoder, settings.textSearchConfig);
      const seen = new Set<string>();
      for await (const batch of source.batches()) {
        const docs = prepare(batch, seen, settings.dim, settings.poolFactor);
        await refuseLive(targets, t, docs.map((d) => d.id));
        await writer.push(docs);
        opts.onProgress?.({ phase: "index", done: seen.size, total: source.count });
      }
      await writer.finishAll();
      const liveDocuments = await countLive(targets, t);
      await query(
        s,
        "update the settings",
        `UPDATE ${t.settings} SET next_ordinal = $1, generation = generation + 1, updated_at = now(), last_add_avg_residual = COALESCE($2, last_add_avg_residual)`,
        [writer.next, writer.avgResidual],
      );
      return { generation: settings.generation + 1, liveDocuments, written: writer.next - first };
    } finally {
      await codec.releaseKernels();
    }
  });
}

/** Deletes documents by id (one transaction per part). Returns which ids were found; an id given twice is found once. */
export async function deleteFromPgIndex(url: string, ids: readonly string[]): Promise<{ deleted: string[]; missing: string[] }> {
  return withWrite(url, async (s, t, targets) => {
    const found = await deleteIds(targets, t, [...new Set(ids)]);
    const deleted: string[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      if (found.delete(id)) deleted.push(id);
      else missing.push(id);
    }
    if (deleted.length > 0) await query(s, "update the settings", `UPDATE ${t.settings} SET generation = generation + 1, updated_at = now()`);
    return { deleted, missing };
  });
}
