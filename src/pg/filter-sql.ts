/**
 * Metadata filters (metadata/filter.ts) as parameterised PostgreSQL conditions over a jsonb column,
 * with the filter language's semantics (SQLite's, `evaluateFilter` the reference), tested against
 * `evaluateFilter` on generated metadata and filters.
 *
 * Every key, value and pattern is a bound parameter (`$n::text`, `$n::numeric`, `$n::float8`); the
 * SQL text holds only keywords, operators, casts, placeholders and the column expression the caller
 * gives. How each SQLite rule is kept:
 *  - A field is `col -> $k1 -> $k2 ...` with text keys: `->` with a text key is NULL on an array or
 *    a scalar, as SQLite's `$."a"."b"` is on a non-object. A JSON null is NULL.
 *  - Types are told apart by `jsonb_typeof`, and the literal's type is known here: every number sorts
 *    before every string, so a string field against a number literal (and the reverse) is a constant
 *    per operator; booleans are the integers 1 / 0.
 *  - Numbers: SQLite compares a 64-bit integer exactly against the (double) literal, and a real as a
 *    double. So an integral field value within ±2^63 is compared as numeric against the literal's
 *    exact decimal expansion, anything else as float8 against the literal as float8.
 *  - Strings compare with COLLATE "C": byte order, which is code-point order in a UTF-8 database.
 *  - LIKE becomes an anchored regular expression (`likeSource`, shared with the JS reference) over the
 *    field's text when it is a string or a 64-bit integer, NULL otherwise.
 *  - IN looks the field up in one array per literal type (`= ANY`), NULL items making a miss unknown;
 *    BETWEEN is an AND of two comparisons: SQL's three-valued logic then gives SQLite's answers.
 * Known differences (documented in docs/DESIGN.md): objects and arrays are NULL under comparisons,
 * IN, BETWEEN and LIKE (SQLite compares their JSON text, which jsonb does not keep); a JSON number
 * written with an exponent but integral (`1e2`, never written by JSON.stringify) counts as an integer
 * for LIKE; numbers beyond float8's range are errors. PostgreSQL refuses NUL characters in jsonb, so
 * such metadata cannot be stored at all.
 */
import { ColtsError } from "../errors.js";
import { checkLike, jsonPath, likeSource, literalValue, MAX_DEPTH, unknownKind, type CompareOp, type FieldPath, type FilterLiteral, type FilterNode } from "../metadata/filter.js";

/** A condition: SQL with `$n` placeholders from the caller's first number on, and their text values in order. */
export interface PgCondition {
  /** A boolean expression; `$n` placeholders only, no quoted text but the compiler's own type names. */
  sql: string;
  /** The placeholders' values in order: text, or text arrays (IN lists), cast in `sql`. */
  params: (string | string[])[];
}

/** PostgreSQL's limit on bound parameters per statement. */
const MAX_PG_PARAMS = 65535;
const INT64_RANGE = "BETWEEN -9223372036854775808 AND 9223372036854775807";

/**
 * The filter as a condition on the jsonb column expression `column` (code, never user text, e.g.
 * `d.meta`), numbering placeholders from `firstParam`. FILTER_INVALID for a malformed tree or one with
 * more parameters than PostgreSQL takes.
 */
export function filterToPgSql(node: FilterNode, column: string, firstParam = 1): PgCondition {
  const c = new Compiler(column, firstParam);
  const sql = c.emit(node, 0);
  if (c.params.length + firstParam - 1 > MAX_PG_PARAMS) throw new ColtsError("FILTER_INVALID", `filter needs ${c.params.length} values, more than PostgreSQL's ${MAX_PG_PARAMS}`);
  return { sql, params: c.params };
}

/** The exact decimal expansion of a finite double (a double is m / 2^e, so m * 5^e / 10^e). */
export function exactDecimal(x: number): string {
  if (Number.isInteger(x)) return BigInt(x).toString();
  let m = Math.abs(x);
  let e = 0;
  // Doubling is exact, and a non-integral double is below 2^52, so m reaches an integer before 2^53.
  while (!Number.isInteger(m)) {
    m *= 2;
    e++;
  }
  const digits = (BigInt(m) * 5n ** BigInt(e)).toString().padStart(e + 1, "0");
  return `${x < 0 ? "-" : ""}${digits.slice(0, -e)}.${digits.slice(-e)}`;
}

/** Result of a comparison between a field of one type and a literal of the other (numbers sort first). */
function crossType(op: CompareOp, fieldIsString: boolean): "true" | "false" {
  const c = fieldIsString ? 1 : -1; // the sign of compare(field, literal)
  const r = { "=": false, "!=": true, "<": c < 0, "<=": c < 0, ">": c > 0, ">=": c > 0 }[op];
  return r ? "true" : "false";
}

const SQL_OP: Readonly<Record<CompareOp, string>> = { "=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=" };

class Compiler {
  readonly params: (string | string[])[] = [];

  constructor(
    private readonly column: string,
    private readonly first: number,
  ) {}

  private bind(value: string): string {
    this.params.push(value);
    return `$${this.first + this.params.length - 1}`;
  }

  /** An array parameter (the driver sends it as a PostgreSQL array literal). */
  private bindArray(values: string[]): string {
    this.params.push(values);
    return `$${this.first + this.params.length - 1}`;
  }

  /** The field's jsonb value (NULL when missing or through a non-object); keys bound once per use. */
  private field(f: FieldPath): string {
    jsonPath(f);
    return `(${this.column}${f.map((k) => ` -> ${this.bind(k)}::text`).join("")})`;
  }

  private isInt64(v: string): string {
    return `(scale(${v}::numeric) = 0 AND ${v}::numeric ${INT64_RANGE})`;
  }

  /** `field op literal` under the filter language's semantics (see the file comment). */
  private compare(f: FieldPath | string, op: CompareOp, literal: FilterLiteral): string {
    const value = literalValue(literal);
    const v = typeof f === "string" ? f : this.field(f);
    const sqlOp = SQL_OP[op] as string | undefined;
    if (sqlOp === undefined) throw new ColtsError("FILTER_INVALID", `unknown comparison ${JSON.stringify(op)}`);
    // Unknown whatever the field holds; the field's parameters are still referenced (PostgreSQL
    // refuses a statement with unused ones).
    if (value === null) return `(CASE WHEN ${v} IS NULL THEN NULL::boolean END)`;
    if (typeof value === "string") {
      const other = crossType(op, false);
      return `(CASE jsonb_typeof(${v}) WHEN 'string' THEN (${v} #>> '{}') COLLATE "C" ${sqlOp} ${this.bind(value)}::text WHEN 'number' THEN ${other} WHEN 'boolean' THEN ${other} END)`;
    }
    const exact = this.bind(exactDecimal(value));
    const asFloat = this.bind(String(value));
    const num = `(CASE WHEN ${this.isInt64(v)} THEN ${v}::numeric ${sqlOp} ${exact}::numeric ELSE ${v}::float8 ${sqlOp} ${asFloat}::float8 END)`;
    const bool = `((CASE WHEN ${v}::boolean THEN 1 ELSE 0 END)::numeric ${sqlOp} ${exact}::numeric)`;
    return `(CASE jsonb_typeof(${v}) WHEN 'number' THEN ${num} WHEN 'boolean' THEN ${bool} WHEN 'string' THEN ${crossType(op, true)} END)`;
  }

  /**
   * `field [NOT] IN (values)` with one array parameter per literal type, so a long list costs one
   * hashed lookup per row rather than an OR per item. SQLite's rule: true when some item equals the
   * field; otherwise NULL when the field is NULL or the list holds a NULL; otherwise false.
   */
  private inList(f: FieldPath, values: readonly FilterLiteral[], negated: boolean): string {
    jsonPath(f);
    const checked = values.map(literalValue);
    if (checked.length === 0) return negated ? "true" : "false";
    const v = this.field(f);
    const strings = checked.filter((x): x is string => typeof x === "string");
    const numbers = checked.filter((x): x is number => typeof x === "number");
    const exact = this.bindArray(numbers.map(exactDecimal));
    const num = `(CASE WHEN ${this.isInt64(v)} THEN ${v}::numeric = ANY(${exact}::numeric[]) ELSE ${v}::float8 = ANY(${this.bindArray(numbers.map(String))}::float8[]) END)`;
    const bool = `((CASE WHEN ${v}::boolean THEN 1 ELSE 0 END)::numeric = ANY(${exact}::numeric[]))`;
    const str = `((${v} #>> '{}') COLLATE "C" = ANY(${this.bindArray(strings)}::text[]))`;
    const hit = `(CASE jsonb_typeof(${v}) WHEN 'number' THEN ${num} WHEN 'boolean' THEN ${bool} WHEN 'string' THEN ${str} END)`;
    // A NULL item turns "no match" into unknown: false OR NULL is NULL, true OR NULL is true.
    const any = checked.includes(null) ? `(${hit} OR NULL::boolean)` : hit;
    return negated ? `(NOT ${any})` : any;
  }

  emit(node: FilterNode, depth: number): string {
    if (depth > MAX_DEPTH) throw new ColtsError("FILTER_INVALID", `filter nested more than ${MAX_DEPTH} deep`);
    switch (node.kind) {
      case "and":
      case "or": {
        if (node.args.length === 0) return node.kind === "and" ? "true" : "false";
        return balanced(
          node.args.map((a) => this.emit(a, depth + 1)),
          node.kind === "and" ? "AND" : "OR",
        );
      }
      case "not":
        return `(NOT ${this.emit(node.arg, depth + 1)})`;
      case "compare":
        return this.compare(node.field, node.op, node.value);
      case "in":
        return this.inList(node.field, node.values, node.negated);
      case "isNull":
        return `(COALESCE(jsonb_typeof(${this.field(node.field)}), 'null') ${node.negated ? "<>" : "="} 'null')`;
      case "between": {
        const v = this.field(node.field);
        const inside = `(${this.compare(v, ">=", node.low)} AND ${this.compare(v, "<=", node.high)})`;
        return node.negated ? `(NOT ${inside})` : inside;
      }
      case "like": {
        checkLike(node.pattern, node.escape);
        const v = this.field(node.field);
        const text = `(CASE jsonb_typeof(${v}) WHEN 'string' THEN ${v} #>> '{}' WHEN 'number' THEN (CASE WHEN ${this.isInt64(v)} THEN ${v} #>> '{}' END) END)`;
        const source = likeSource(node.pattern, node.escape);
        if (source === null) return `(CASE WHEN ${text} IS NOT NULL THEN ${node.negated ? "true" : "false"} END)`;
        return `(${text} ${node.negated ? "!~" : "~"} ${this.bind(`^(?:${source})$`)}::text)`;
      }
      default:
        throw unknownKind(node);
    }
  }
}

/** AND / OR chains as balanced trees, keeping long IN lists and chains shallow for the planner. */
function balanced(parts: string[], op: string): string {
  const build = (from: number, to: number): string => {
    if (to - from === 1) return parts[from] as string;
    const mid = (from + to) >> 1;
    return `(${build(from, mid)} ${op} ${build(mid, to)})`;
  };
  return build(0, parts.length);
}
