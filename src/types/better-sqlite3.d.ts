/**
 * Types for the part of better-sqlite3 that colts uses (@types/better-sqlite3 is not a dependency).
 * Rows come back as `unknown`: callers check or assert the shape of what their own SQL selects.
 */
declare module "better-sqlite3" {
  namespace Database {
    /** What a statement parameter may be bound to (numbers bind as REAL, bigints as INTEGER). */
    type BindValue = string | number | bigint | Buffer | null;

    interface Options {
      /** Open the file read-only. */
      readonly?: boolean;
      /** Fail instead of creating a missing file. */
      fileMustExist?: boolean;
      /** Milliseconds to wait on a locked database before SQLITE_BUSY (default 5000). */
      timeout?: number;
    }

    interface RunResult {
      changes: number;
      lastInsertRowid: number | bigint;
    }

    interface Statement {
      readonly source: string;
      readonly reader: boolean;
      run(...params: BindValue[]): RunResult;
      get(...params: BindValue[]): unknown;
      all(...params: BindValue[]): unknown[];
      iterate(...params: BindValue[]): IterableIterator<unknown>;
      /** Rows become their first column's value. */
      pluck(toggle?: boolean): this;
      /** Rows become arrays of column values. */
      raw(toggle?: boolean): this;
    }

    interface Connection {
      readonly open: boolean;
      readonly inTransaction: boolean;
      readonly name: string;
      readonly readonly: boolean;
      prepare(source: string): Statement;
      exec(source: string): this;
      pragma(source: string, options?: { simple?: boolean }): unknown;
      /** Wraps `fn` in BEGIN / COMMIT, rolling back when it throws. */
      transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
      close(): this;
    }
  }

  /** An error raised by SQLite itself; `code` is SQLite's name for it, e.g. "SQLITE_CORRUPT". */
  interface SqliteErrorLike extends Error {
    code: string;
  }

  interface DatabaseConstructor {
    new (filename: string, options?: Database.Options): Database.Connection;
    readonly SqliteError: new (message: string, code: string) => SqliteErrorLike;
  }

  const Database: DatabaseConstructor;
  export = Database;
}
