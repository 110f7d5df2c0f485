/**
 * The functions of a sharded PostgreSQL index. Each shard node holds the documents and vectors of the
 * documents it owns and a set of read functions over them; the coordinator holds PL/Proxy functions
 * of the same names and signatures (`RUN ON ALL`: called on every shard in parallel, rows
 * concatenated) and `..._on` variants that run on one shard (`RUN ON on_part`), used to tell which
 * shard fails and to search the live shards alone when partial results are allowed.
 *
 * Filters: the dynamic functions take a condition over documents `d` compiled by filter-sql.ts (code
 * of colts, never user text) whose values travel separately in one jsonb array, bound as `$1` of the
 * shard's EXECUTE (remoteCondition rewrites the compiler's placeholders into references to it).
 * Every function is SECURITY INVOKER: a caller can run with it only what its role can run anyway.
 */
import type { Tables } from "./schema.js";

/** One shard function: its name after the prefix, arguments, result columns and its body on a shard. */
interface ShardFunction {
  name: string;
  args: readonly (readonly [string, string])[];
  returns: readonly (readonly [string, string])[];
  language: "sql" | "plpgsql";
  body: (t: Tables, shardTable: string) => string;
}

// As search-sql.ts HNSW_SETTINGS_SQL (why enable_seqscan is off there); the call is its own transaction on the shard.
const HNSW_SETTINGS = `PERFORM set_config('hnsw.ef_search', ef::text, true), set_config('hnsw.max_scan_tuples', max_scan::text, true),
    set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('enable_seqscan', 'off', true);`;

/** The read functions every shard has (and the coordinator proxies). */
const FUNCTIONS: readonly ShardFunction[] = [
  {
    // First stage: this shard's `lim` nearest FDEs (pgvector HNSW, iterative scan), with their distance (`<#>`).
    name: "f_fde",
    args: [["q", "text"], ["lim", "integer"], ["ef", "integer"], ["max_scan", "integer"], ["cond", "text"], ["params", "jsonb"]],
    returns: [["ordinal", "bigint"], ["distance", "double precision"]],
    language: "plpgsql",
    body: (t) => `DECLARE qv halfvec := q::halfvec;
BEGIN
  ${HNSW_SETTINGS}
  RETURN QUERY EXECUTE 'SELECT d.ordinal, (d.fde <#> $2)::double precision FROM ${t.documents} d WHERE ' || cond || ' ORDER BY d.fde <#> $2 LIMIT $3' USING params, qv, lim;
END`,
  },
  {
    // The "plaid" retriever's first stage: this shard's IVF lists of some centroids.
    name: "f_ivf",
    args: [["cells", "integer[]"]],
    returns: [["centroid", "integer"], ["ordinals", "bytea"]],
    language: "sql",
    body: (t) => `SELECT i.centroid, i.ordinals FROM ${t.ivf} i WHERE i.centroid = ANY(cells)`,
  },
  {
    // Which of some ordinals (NULL: all) this shard holds and the condition admits.
    name: "f_admit",
    args: [["ords", "bigint[]"], ["cond", "text"], ["params", "jsonb"]],
    returns: [["ordinal", "bigint"]],
    language: "plpgsql",
    body: (t) => `BEGIN
  RETURN QUERY EXECUTE 'SELECT d.ordinal FROM ${t.documents} d WHERE ($2 IS NULL OR d.ordinal = ANY($2)) AND ' || cond USING params, ords;
END`,
  },
  {
    name: "f_vectors",
    args: [["ords", "bigint[]"]],
    returns: [["ordinal", "bigint"], ["doclen", "integer"], ["codes", "bytea"], ["residuals", "bytea"]],
    language: "sql",
    body: (t) => `SELECT v.ordinal, v.doclen, v.codes, v.residuals FROM ${t.vectors} v WHERE v.ordinal = ANY(ords)`,
  },
  {
    name: "f_codes",
    args: [["ords", "bigint[]"]],
    returns: [["ordinal", "bigint"], ["doclen", "integer"], ["codes", "bytea"]],
    language: "sql",
    body: (t) => `SELECT v.ordinal, v.doclen, v.codes FROM ${t.vectors} v WHERE v.ordinal = ANY(ords)`,
  },
  {
    name: "f_describe",
    args: [["ords", "bigint[]"]],
    returns: [["ordinal", "bigint"], ["id", "text"], ["meta", "jsonb"]],
    language: "sql",
    body: (t) => `SELECT d.ordinal, d.id, d.meta FROM ${t.documents} d WHERE d.ordinal = ANY(ords)`,
  },
  {
    name: "f_texts",
    args: [["ords", "bigint[]"]],
    returns: [["ordinal", "bigint"], ["text", "text"]],
    language: "sql",
    body: (t) => `SELECT d.ordinal, d.text FROM ${t.documents} d WHERE d.ordinal = ANY(ords)`,
  },
  {
    // Exhaustive search, page by page: this shard's next `lim` vectors rows after afters[its part + 1].
    name: "f_exact",
    args: [["afters", "bigint[]"], ["lim", "integer"], ["cond", "text"], ["params", "jsonb"]],
    returns: [["part", "integer"], ["ordinal", "bigint"], ["doclen", "integer"], ["codes", "bytea"], ["residuals", "bytea"]],
    language: "plpgsql",
    body: (t, shard) => `DECLARE me integer; from_ordinal bigint;
BEGIN
  SELECT s.part INTO me FROM ${shard} s;
  from_ordinal := afters[me + 1];
  RETURN QUERY EXECUTE 'SELECT $2, v.ordinal, v.doclen, v.codes, v.residuals FROM ${t.vectors} v JOIN ${t.documents} d ON d.ordinal = v.ordinal WHERE v.ordinal > $3 AND '
    || cond || ' ORDER BY v.ordinal LIMIT $4' USING params, me, from_ordinal, lim;
END`,
  },
  {
    // Full-text search as the single-node keywordSql (score real, so scores equal the single node's).
    name: "f_keyword",
    args: [["cfg", "text"], ["q", "text"], ["lim", "integer"], ["cond", "text"], ["params", "jsonb"]],
    returns: [["ordinal", "bigint"], ["id", "text"], ["meta", "jsonb"], ["score", "real"]],
    language: "plpgsql",
    body: (t) => `BEGIN
  RETURN QUERY EXECUTE 'SELECT d.ordinal, d.id, d.meta, ts_rank_cd(d.tsv, websearch_to_tsquery($2::regconfig, $3), 1) AS score FROM ${t.documents} d
    WHERE d.tsv @@ websearch_to_tsquery($2::regconfig, $3) AND ' || cond || ' ORDER BY score DESC, d.ordinal LIMIT $4' USING params, cfg, q, lim;
END`,
  },
  {
    name: "f_counts",
    args: [],
    returns: [["part", "integer"], ["docs", "bigint"], ["vectors", "bigint"], ["texts", "boolean"], ["max_ordinal", "bigint"]],
    language: "sql",
    body: (t, shard) => `SELECT s.part, (SELECT count(*) FROM ${t.documents}), (SELECT COALESCE(sum(v.doclen), 0)::bigint FROM ${t.vectors} v),
    EXISTS (SELECT 1 FROM ${t.documents} d WHERE d.text IS NOT NULL), (SELECT max(d.ordinal) FROM ${t.documents} d) FROM ${shard} s`,
  },
  {
    name: "f_sizes",
    args: [],
    returns: [["part", "integer"], ["documents_b", "bigint"], ["vectors_b", "bigint"], ["ivf_b", "bigint"], ["fde_b", "bigint"], ["tsv_b", "bigint"]],
    language: "sql",
    body: (t, shard) =>
      // to_regclass: resolved when called (the search indexes are created after the functions).
      `SELECT s.part, pg_total_relation_size(to_regclass('${t.documents}')), pg_total_relation_size(to_regclass('${t.vectors}')),
    pg_total_relation_size(to_regclass('${t.ivf}')), COALESCE(pg_relation_size(to_regclass('${t.fdeIndex}')), 0), COALESCE(pg_relation_size(to_regclass('${t.textIndex}')), 0) FROM ${shard} s`,
  },
  {
    // Whether the shard answers, and which part it is.
    name: "f_ping",
    args: [],
    returns: [["part", "integer"]],
    language: "sql",
    body: (_t, shard) => `SELECT s.part FROM ${shard} s`,
  },
];

/** Names of the shard functions (after the prefix). */
export type ShardFunctionName = "f_fde" | "f_ivf" | "f_admit" | "f_vectors" | "f_codes" | "f_describe" | "f_texts" | "f_exact" | "f_keyword" | "f_counts" | "f_sizes" | "f_ping";

const quoted = (prefix: string, name: string): string => `"${prefix}${name}"`;
const signature = (f: ShardFunction): string => f.args.map(([n, type]) => `${n} ${type}`).join(", ");
const table = (f: ShardFunction): string => `TABLE(${f.returns.map(([n, type]) => `${n} ${type}`).join(", ")})`;

/** CREATE statements of the shard side. shardTable: the shard's own one-row table naming its part. */
export function shardFunctionStatements(prefix: string, t: Tables, shardTable: string): string[] {
  return FUNCTIONS.map((f) => {
    const pragma = f.language === "plpgsql" ? "#variable_conflict use_column\n" : "";
    return `CREATE FUNCTION ${quoted(prefix, f.name)}(${signature(f)}) RETURNS ${table(f)} LANGUAGE ${f.language} AS $colts$${pragma}${f.body(t, shardTable)}$colts$`;
  });
}

/** CREATE statements of the coordinator side: a RUN ON ALL proxy and a RUN ON on_part variant of each. cluster: the PL/Proxy cluster (server) name. */
export function proxyFunctionStatements(prefix: string, cluster: string): string[] {
  return FUNCTIONS.flatMap((f) => {
    const name = quoted(prefix, f.name);
    const all = `CREATE FUNCTION ${name}(${signature(f)}) RETURNS ${table(f)} LANGUAGE plproxy AS $colts$ CLUSTER '${cluster}'; RUN ON ALL; $colts$`;
    const onArgs = [["on_part", "integer"] as const, ...f.args];
    const call = `SELECT * FROM ${name}(${f.args.map(([n]) => n).join(", ")});`;
    const one = `CREATE FUNCTION ${quoted(prefix, `${f.name}_on`)}(${onArgs.map(([n, type]) => `${n} ${type}`).join(", ")}) RETURNS ${table(f)} LANGUAGE plproxy AS $colts$ CLUSTER '${cluster}'; RUN ON on_part; ${call} $colts$`;
    return [all, one];
  });
}

/** DROP statements of the functions on either side (`on`: also the `_on` variants, which only the coordinator has). */
export function dropFunctionStatements(prefix: string, on: boolean): string[] {
  return FUNCTIONS.flatMap((f) => {
    const types = f.args.map(([, type]) => type);
    const drops = [`DROP FUNCTION IF EXISTS ${quoted(prefix, f.name)}(${types.join(", ")})`];
    if (on) drops.push(`DROP FUNCTION IF EXISTS ${quoted(prefix, `${f.name}_on`)}(${["integer", ...types].join(", ")})`);
    return drops;
  });
}

/**
 * A call of a shard function through the coordinator: `SELECT * FROM "<prefix><name>"($1, ...)`, or
 * of its one-shard variant with the shard number first. Values are bound: nothing is spliced.
 */
export function callSql(prefix: string, name: ShardFunctionName, argCount: number, on: boolean): string {
  const n = argCount + (on ? 1 : 0);
  const placeholders = Array.from({ length: n }, (_, i) => `$${i + 1}`).join(", ");
  return `SELECT * FROM ${quoted(prefix, on ? `${name}_on` : name)}(${placeholders})`;
}

/**
 * A condition compiled for one statement (placeholders `$first`..) rewritten for a shard function's
 * EXECUTE, where the values are the jsonb array `$1`: a text value becomes `($1->>i)` and a text
 * array `ARRAY(SELECT jsonb_array_elements_text($1->i))`, each followed by the compiler's own cast.
 * The compiler emits `$n` only as placeholders, so the rewrite touches nothing else.
 */
export function remoteCondition(where: string, params: readonly unknown[], first: number): { cond: string; params: string } {
  const cond = where.replace(/\$(\d+)/g, (_, digits: string) => {
    const i = Number(digits) - first;
    if (i < 0 || i >= params.length) throw new Error(`condition placeholder $${digits} has no value`);
    return Array.isArray(params[i]) ? `ARRAY(SELECT jsonb_array_elements_text($1->${i}))` : `($1->>${i})`;
  });
  return { cond, params: JSON.stringify(params) };
}
