/**
 * The parts of @lancedb/lancedb and apache-arrow that bench/plaid-synthetic.ts uses. Both are
 * optional, installed on demand (`npm install --no-save @lancedb/lancedb@0.39.0 apache-arrow@18.1.0`:
 * npm 11 writes a lockfile without LanceDB's platform packages, which breaks `npm ci`), so the
 * project must compile without them; the benchmark imports them dynamically.
 */
declare module "@lancedb/lancedb" {
  export interface VectorQuery {
    distanceType(type: "cosine" | "l2" | "dot"): VectorQuery;
    limit(n: number): VectorQuery;
    select(columns: string[]): VectorQuery;
    nprobes(n: number): VectorQuery;
    refineFactor(n: number): VectorQuery;
    bypassVectorIndex(): VectorQuery;
    toArray(): Promise<unknown[]>;
  }
  export interface Table {
    add(data: unknown): Promise<unknown>;
    createIndex(column: string, options: { config: unknown }): Promise<void>;
    vectorSearch(query: Float32Array[] | Float32Array): VectorQuery;
    close(): void;
  }
  export interface Connection {
    createTable(name: string, data: unknown): Promise<Table>;
    openTable(name: string): Promise<Table>;
  }
  export function connect(uri: string): Promise<Connection>;
  export const Index: { ivfPq(options: { distanceType: string; numPartitions: number; numSubVectors: number }): unknown };
}

declare module "apache-arrow" {
  export class DataType {
    protected constructor();
  }
  export class Float32 extends DataType {
    constructor();
  }
  export class Int32 extends DataType {
    constructor();
  }
  export class Field {
    constructor(name: string, type: DataType, nullable?: boolean);
  }
  export class FixedSizeList extends DataType {
    constructor(size: number, child: Field);
  }
  export class List extends DataType {
    constructor(child: Field);
  }
  export class Struct extends DataType {
    constructor(fields: Field[]);
  }
  export class Schema {
    constructor(fields: Field[]);
    readonly fields: Field[];
  }
  export interface Data {
    readonly length: number;
  }
  export function makeData(props: { type: DataType; length: number; data?: ArrayLike<number>; child?: Data; children?: Data[]; valueOffsets?: Int32Array }): Data;
  export class RecordBatch {
    constructor(schema: Schema, data: Data);
  }
  export class Table {
    constructor(schema: Schema, batch: RecordBatch);
  }
}
