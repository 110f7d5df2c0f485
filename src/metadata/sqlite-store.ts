/**
 * Document ids, metadata and (optionally) texts of an index, in an embedded SQLite database
 * (better-sqlite3): one row per ordinal in
 * `docs(ordinal INTEGER PRIMARY KEY, id TEXT NOT NULL, meta BLOB, text TEXT)`.
 *
 * - `meta` holds the metadata as SQLite JSONB (binary JSON, SQLite >= 3.45), not JSON text:
 *   json_extract reads JSONB without parsing it, which makes a filter over 1M rows about 4x faster.
 *   `json(meta)` turns it back into the JSON text that was stored.
 * - Crash safety: the index's manifest, renamed into place after this database committed, is what
 *   says which ordinals exist (`numDocs`). Rows at or above that count come from a write that was
 *   interrupted before its manifest; every lookup takes a `limit` (the manifest's `numDocs`) and ignores
 *   them, and `insert` replaces rows by ordinal, so the next add overwrites them. Transactions commit
 *   with `synchronous=FULL`, so a committed add survives power loss; WAL lets readers in other
 *   processes read while a writer writes.
 * - Ids: an id deleted and added again gets a new ordinal while its old row stays until compaction
 *   (`removeOrdinals`), and deletions live in the index's tombstones, not here. So `id` has a plain
 *   (non-unique) index and SQLite does not enforce uniqueness: deleting the old row when the id is
 *   re-added would commit before the manifest does, and a crash in between would lose the metadata of
 *   a document that is still live. The index keeps at most one live ordinal per id (it tombstones the
 *   old ordinal in the same manifest that adds the new one); `ordinalsForIds` returns, per id, the
 *   highest ordinal below `limit` that the caller's `isLive` accepts.
 * - Versions: the schema version is `PRAGMA user_version`; a newer one is refused with INDEX_VERSION.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ColtsError } from "../errors.js";
import { parseFilter, toSql, type DocMeta, type FilterNode } from "./filter.js";

/** The `user_version` this code writes and the newest it reads. */
export const METADATA_SCHEMA_VERSION = 1;

/** Options of `MetadataStore.open`. */
export interface MetadataOpenOptions {
  /** Open an existing database for reading only (no writes, no schema creation). Default false. */
  readonly?: boolean;
}

/** One document for `MetadataStore.insert`. */
export interface MetadataRow {
  /** The document's ordinal in the index: an integer in [0, 2^31). */
  ordinal: number;
  /** The caller's stable id for the document. */
  id: string;
  /** A JSON object (strings, finite numbers, booleans, null, nested arrays / objects); null or absent: none. */
  meta?: DocMeta | null;
  /** The document's text, kept to return with hits; null or absent: not stored. */
  text?: string | null;
}

/** A document's id and metadata, as returned with hits. */
export interface DocRecord {
  /** The caller's id. */
  id: string;
  /** The stored metadata, or null when the document has none. */
  meta: Record<string, unknown> | null;
}

/** A checked row as bound to the insert statement: ordinal, id, metadata JSON, text. */
type InsertTuple = [number, string, string | null, string | null];

/** Whether an ordinal is live (not tombstoned) in the caller's view of the index. */
export type IsLive = (ordinal: number) => boolean;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS docs (ordinal INTEGER PRIMARY KEY, id TEXT NOT NULL, meta BLOB, text TEXT);
  CREATE INDEX IF NOT EXISTS docs_id ON docs (id, ordinal);
`;
/** Ordinals end up in Int32Arrays. */
const MAX_ORDINAL = 0x7fffffff;
/** Deeper metadata is refused (also catches cycles); SQLite's JSON nests at most 1000 deep. */
const MAX_META_DEPTH = 100;
/** A 32 MiB page cache (SQLite's default is 2 MiB) keeps the id index's B-tree in memory while adding. */
const CACHE_KIB = 32768;
const FILTER_CACHE = 64;

function sqliteCode(e: unknown): string | undefined {
  return e instanceof Error && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

/** SQLite result codes that mean the database file itself is damaged or unreadable, not the query. */
const DAMAGED = /^SQLITE_(CORRUPT|NOTADB|IOERR|CANTOPEN|FORMAT)/;

/** Whether `e` is a SQLite error saying the database file is damaged. */
function isDamaged(e: unknown): boolean {
  return DAMAGED.test(sqliteCode(e) ?? "");
}

function invalid(message: string): ColtsError {
  return new ColtsError("INPUT_INVALID", message);
}

function checkOrdinal(o: unknown, what: string): number {
  if (typeof o !== "number" || !Number.isInteger(o) || o < 0 || o > MAX_ORDINAL) {
    throw invalid(`${what}: ordinal ${String(o)} is not an integer in [0, 2^31)`);
  }
  return o;
}

/** `limit` may equal 2^31: every ordinal is below it. */
function checkLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0 || limit > MAX_ORDINAL + 1) {
    throw invalid(`limit ${String(limit)} is not an integer in [0, 2^31]`);
  }
  return limit;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Refuses what JSON would silently change (NaN, Infinity) or cannot hold (bigint, Date, class instances). */
function checkJson(v: unknown, where: string, depth: number): void {
  if (depth > MAX_META_DEPTH) throw invalid(`${where}: metadata nested more than ${MAX_META_DEPTH} deep (or cyclic)`);
  if (v === null || v === undefined || typeof v === "string" || typeof v === "boolean") return;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw invalid(`${where}: ${v} is not a finite number`);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => checkJson(x, `${where}[${i}]`, depth + 1));
  } else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) checkJson(x, `${where}.${k}`, depth + 1);
  } else {
    throw invalid(`${where}: ${typeof v === "object" ? "a non-plain object" : `a ${typeof v}`} is not JSON metadata`);
  }
}

function metaJson(meta: unknown, where: string): string | null {
  if (meta === undefined || meta === null) return null;
  if (!isPlainObject(meta)) throw invalid(`${where}: metadata must be a plain object`);
  checkJson(meta, `${where} meta`, 0);
  return JSON.stringify(meta);
}

/** The ids and metadata of one index (see the module comment). */
export class MetadataStore {
  private readonly insertRows: (rows: InsertTuple[]) => void;
  private readonly removeRows: (ordinals: ArrayLike<number>) => number;
  private readonly byId: Database.Statement;
  private readonly byOrdinal: Database.Statement;
  private readonly textByOrdinal: Database.Statement;
  private readonly truncateRows: Database.Statement;
  private readonly filters = new Map<string, Database.Statement>();

  private constructor(
    private readonly conn: Database.Connection,
    /** The database file. */
    readonly file: string,
    /** Whether the store was opened read-only. */
    readonly readOnly: boolean,
  ) {
    const insert = conn.prepare("INSERT OR REPLACE INTO docs (ordinal, id, meta, text) VALUES (?, ?, jsonb(?), ?)");
    this.insertRows = conn.transaction((rows: InsertTuple[]) => {
      for (const [ordinal, id, meta, text] of rows) insert.run(ordinal, id, meta, text);
    });
    const remove = conn.prepare("DELETE FROM docs WHERE ordinal = ?");
    this.removeRows = conn.transaction((ordinals: ArrayLike<number>) => {
      let n = 0;
      for (let i = 0; i < ordinals.length; i++) n += remove.run(checkOrdinal(ordinals[i], "removeOrdinals")).changes;
      return n;
    });
    this.byId = conn.prepare("SELECT ordinal FROM docs WHERE id = ? AND ordinal < ? ORDER BY ordinal DESC").pluck();
    this.byOrdinal = conn.prepare("SELECT id, json(meta) FROM docs WHERE ordinal = ?").raw();
    this.textByOrdinal = conn.prepare("SELECT text FROM docs WHERE ordinal = ?").pluck();
    this.truncateRows = conn.prepare("DELETE FROM docs WHERE ordinal >= ?");
  }

  /**
   * Opens (and, unless read-only, creates) the metadata database at `file`. Throws INDEX_NOT_FOUND when
   * the file (read-only) or its folder is missing, INDEX_CORRUPT when it is not a colts metadata
   * database, INDEX_VERSION when it was written by a newer colts.
   */
  static open(file: string, options: MetadataOpenOptions = {}): MetadataStore {
    const readOnly = options.readonly === true;
    if (!fs.existsSync(readOnly ? file : path.dirname(path.resolve(file)))) {
      throw new ColtsError("INDEX_NOT_FOUND", `no metadata database at ${file}`, { details: { file } });
    }
    let conn: Database.Connection | undefined;
    try {
      conn = new Database(file, { readonly: readOnly, fileMustExist: readOnly });
      const version = conn.pragma("user_version", { simple: true });
      if (typeof version !== "number" || version > METADATA_SCHEMA_VERSION) {
        throw new ColtsError("INDEX_VERSION", `${file}: metadata schema version ${String(version)} is newer than ${METADATA_SCHEMA_VERSION}; upgrade colts`, {
          details: { file, version, supported: METADATA_SCHEMA_VERSION },
        });
      }
      if (!readOnly) {
        conn.pragma("journal_mode = WAL");
        conn.pragma("synchronous = FULL");
        conn.pragma(`cache_size = -${CACHE_KIB}`);
        const c = conn;
        if (version === 0) c.transaction(() => c.exec(SCHEMA).pragma(`user_version = ${METADATA_SCHEMA_VERSION}`))();
      } else if (version === 0) {
        throw new ColtsError("INDEX_CORRUPT", `${file}: not an initialised colts metadata database`, { details: { file } });
      }
      return new MetadataStore(conn, file, readOnly);
    } catch (e) {
      conn?.close();
      if (e instanceof ColtsError) throw e;
      const code = sqliteCode(e);
      if (code === "SQLITE_CANTOPEN") throw new ColtsError("INDEX_NOT_FOUND", `cannot open metadata database ${file}`, { cause: e, details: { file } });
      if (code?.startsWith("SQLITE_")) {
        throw new ColtsError("INDEX_CORRUPT", `${file}: not a usable colts metadata database (${code})`, { cause: e, details: { file, sqlite: code } });
      }
      throw e;
    }
  }

  /** The connection, or CLOSED once closed (better-sqlite3 would throw a plain TypeError). */
  private live(): Database.Connection {
    if (!this.conn.open) throw new ColtsError("CLOSED", `metadata database ${this.file} is closed`);
    return this.conn;
  }

  /** INDEX_CORRUPT naming this database, for a SQLite failure while reading it. */
  private damaged(e: unknown): ColtsError {
    const code = sqliteCode(e);
    return new ColtsError("INDEX_CORRUPT", `${this.file}: the metadata database is damaged (${code ?? "unreadable"}: ${(e as Error).message})`, {
      cause: e,
      details: { file: this.file, ...(code ? { sqlite: code } : {}) },
    });
  }

  /** Runs a read; any SQLite failure of a lookup means the database is damaged (INDEX_CORRUPT). */
  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ColtsError || sqliteCode(e) === undefined) throw e;
      throw this.damaged(e);
    }
  }

  /**
   * Checks the whole database with SQLite's quick_check (reads every page; `colts index info` runs
   * it). INDEX_CORRUPT naming the file and SQLite's first complaint when it is damaged.
   */
  check(): void {
    const result = this.read(() => this.live().pragma("quick_check(1)", { simple: true }));
    if (result !== "ok") {
      throw new ColtsError("INDEX_CORRUPT", `${this.file}: the metadata database is damaged (${String(result).replace(/\s*\n\s*/g, "; ")})`, { details: { file: this.file } });
    }
  }

  private writable(): void {
    if (this.live().readonly) throw invalid(`metadata database ${this.file} is open read-only`);
  }

  /**
   * Writes documents in one transaction, replacing any row with the same ordinal (leftovers of an
   * interrupted add). Checks every row before writing any; a batch may not repeat an ordinal or an id.
   */
  insert(rows: readonly MetadataRow[]): void {
    this.writable();
    const ordinals = new Set<number>();
    const ids = new Set<string>();
    const prepared = rows.map((row, i): InsertTuple => {
      const where = `row ${i}`;
      const ordinal = checkOrdinal(row.ordinal, where);
      if (typeof row.id !== "string") throw invalid(`${where}: id must be a string`);
      const text = row.text ?? null;
      if (text !== null && typeof text !== "string") throw invalid(`${where}: text must be a string`);
      if (ordinals.has(ordinal)) throw invalid(`${where}: ordinal ${ordinal} appears twice in one insert`);
      if (ids.has(row.id)) throw invalid(`${where}: id ${JSON.stringify(row.id)} appears twice in one insert`);
      ordinals.add(ordinal);
      ids.add(row.id);
      return [ordinal, row.id, metaJson(row.meta, where), text];
    });
    this.insertRows(prepared);
  }

  /**
   * For each id, the highest ordinal below `limit` that `isLive` accepts (all, without `isLive`); ids
   * without one are absent from the map.
   */
  ordinalsForIds(ids: Iterable<string>, limit: number, isLive?: IsLive): Map<string, number> {
    checkLimit(limit);
    this.live();
    const out = new Map<string, number>();
    for (const id of ids) {
      if (typeof id !== "string") throw invalid(`id ${String(id)} is not a string`);
      if (out.has(id)) continue;
      for (const ordinal of this.read(() => this.byId.all(id, limit) as number[])) {
        if (isLive === undefined || isLive(ordinal)) {
          out.set(id, ordinal);
          break;
        }
      }
    }
    return out;
  }

  /** Ids and metadata of `ordinals`, in order. Throws INDEX_CORRUPT for an ordinal without a row. */
  docsForOrdinals(ordinals: ArrayLike<number>): DocRecord[] {
    return this.rows(ordinals, (id, meta) => ({ id, meta: meta === null ? null : (JSON.parse(meta) as Record<string, unknown>) }));
  }

  /** Ids of `ordinals`, in order. Throws INDEX_CORRUPT for an ordinal without a row. */
  idsForOrdinals(ordinals: ArrayLike<number>): string[] {
    return this.rows(ordinals, (id) => id);
  }

  /** Metadata of `ordinals` (null: none), in order. Throws INDEX_CORRUPT for an ordinal without a row. */
  metaForOrdinals(ordinals: ArrayLike<number>): (Record<string, unknown> | null)[] {
    return this.rows(ordinals, (_id, meta) => (meta === null ? null : (JSON.parse(meta) as Record<string, unknown>)));
  }

  /** Stored texts of `ordinals` (null: none stored), in order. Throws INDEX_CORRUPT for an ordinal without a row. */
  textsForOrdinals(ordinals: ArrayLike<number>): (string | null)[] {
    return this.lookup(ordinals, this.textByOrdinal, (text) => text as string | null);
  }

  private rows<T>(ordinals: ArrayLike<number>, map: (id: string, meta: string | null) => T): T[] {
    return this.lookup(ordinals, this.byOrdinal, (row) => {
      const [id, meta] = row as [unknown, string | null];
      if (typeof id !== "string") throw new ColtsError("INDEX_CORRUPT", `${this.file}: a stored id is not text`, { details: { file: this.file } });
      try {
        return map(id, meta);
      } catch (e) {
        throw new ColtsError("INDEX_CORRUPT", `${this.file}: the stored metadata of id ${JSON.stringify(id)} is not valid JSON`, { cause: e, details: { file: this.file } });
      }
    });
  }

  /** One primary-key lookup per ordinal; a missing row means the index and this database disagree. */
  private lookup<T>(ordinals: ArrayLike<number>, stmt: Database.Statement, map: (row: unknown) => T): T[] {
    this.live();
    const out: T[] = [];
    for (let i = 0; i < ordinals.length; i++) {
      const ordinal = checkOrdinal(ordinals[i], "lookup");
      const row = this.read(() => stmt.get(ordinal));
      if (row === undefined) {
        throw new ColtsError("INDEX_CORRUPT", `${this.file}: no metadata row for ordinal ${ordinal}`, { details: { file: this.file, ordinal } });
      }
      out.push(map(row));
    }
    return out;
  }

  /**
   * Ordinals below `limit` whose metadata passes `filter` (text, parsed with `parseFilter`, or a tree)
   * and that `isLive` accepts, ascending. The filter runs as parameterised SQL (`toSql`).
   */
  filterOrdinals(filter: string | FilterNode, limit: number, isLive?: IsLive): Int32Array {
    checkLimit(limit);
    this.live();
    const { sql, params } = toSql(typeof filter === "string" ? parseFilter(filter) : filter);
    let found: number[];
    try {
      found = this.filterStatement(sql).all(limit, ...params) as number[];
    } catch (e) {
      const code = sqliteCode(e);
      if (code === undefined || !code.startsWith("SQLITE_")) throw e;
      // The filter parsed and its SQL is ours: a damaged file, or stored metadata SQLite cannot read
      // as JSON, is the database's fault, not the filter's.
      if (isDamaged(e) || /malformed JSON/i.test((e as Error).message)) throw this.damaged(e);
      throw new ColtsError("FILTER_INVALID", `SQLite could not run the filter: ${(e as Error).message}`, { cause: e });
    }
    return Int32Array.from(isLive === undefined ? found : found.filter((o) => isLive(o)));
  }

  private filterStatement(condition: string): Database.Statement {
    let stmt = this.filters.get(condition);
    if (stmt === undefined) {
      stmt = this.live().prepare(`SELECT ordinal FROM docs WHERE ordinal < ? AND ${condition} ORDER BY ordinal`).pluck();
      // Keep the most recent filters prepared; Map order is insertion order, so the first is the oldest.
      if (this.filters.size >= FILTER_CACHE) this.filters.delete(this.filters.keys().next().value ?? "");
      this.filters.set(condition, stmt);
    }
    return stmt;
  }

  /** Deletes the rows of `ordinals` (compaction of tombstoned documents) in one transaction; returns how many existed. */
  removeOrdinals(ordinals: ArrayLike<number>): number {
    this.writable();
    return this.removeRows(ordinals);
  }

  /** Deletes every row at or above `limit` (leftovers of an interrupted add); returns how many existed. */
  truncate(limit: number): number {
    this.writable();
    return this.truncateRows.run(checkLimit(limit)).changes;
  }

  /** Closes the database (idempotent); later calls throw CLOSED. */
  close(): void {
    if (this.conn.open) this.conn.close();
  }
}
