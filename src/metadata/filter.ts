/**
 * Metadata filters: a small SQL-like condition language over the fields of a document's metadata,
 * e.g. `year >= 2000 AND lang IN ('en', 'fr') AND NOT title LIKE 'draft%'`.
 *
 * Grammar (keywords case-insensitive; NOT binds tighter than AND, AND tighter than OR):
 *   filter    := or END
 *   or        := and ( OR and )*
 *   and       := unary ( AND unary )*
 *   unary     := NOT unary | '(' or ')' | predicate
 *   predicate := field cmp literal
 *              | field [NOT] IN '(' literal ( ',' literal )* ')'
 *              | field IS [NOT] NULL
 *              | field [NOT] LIKE string [ESCAPE string]
 *              | field [NOT] BETWEEN literal AND literal
 *   cmp       := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>='
 *   field     := part ( '.' part )*          -- each '.' steps into a nested object
 *   part      := [A-Za-z_][A-Za-z0-9_]*       -- after a '.', may also start with a digit
 *              | '"' any text, "" for a double quote '"'   -- names with spaces, keywords, dots
 *   literal   := string | number | TRUE | FALSE | NULL
 *   string    := "'" any text, '' for a quote "'"
 *   number    := -?( digits [ '.' digits ] | '.' digits ) ( [eE] [+-]? digits )?
 *
 * Filters run in SQLite: `toSql` turns a tree into a condition where each field is
 * `json_extract(meta, ?)` with its JSON path bound and each literal is bound, so neither field names nor
 * values ever reach SQL text. `evaluateFilter` is the same semantics in JS, the reference the SQL is
 * tested against. The semantics, SQLite's unless said otherwise:
 *  - A missing field, a JSON null and a path through a non-object are all NULL.
 *  - true / false are the integers 1 / 0 (json_extract's answer), in metadata and in filters alike.
 *  - No type conversion (json_extract results and bound values have no affinity): numbers compare
 *    numerically, strings by code point (SQLite's BINARY collation over UTF-8), every number sorts
 *    before every string, so `year = '2000'` is false for the number 2000. Objects and arrays compare
 *    as their JSON text.
 *  - A comparison with NULL is unknown; NOT unknown is unknown; AND / OR use SQL's three-valued logic;
 *    a document matches only when the whole condition is true. `x = NULL` never matches: use IS NULL.
 *  - `x IN (...)` is unknown when x is NULL, or when nothing matched and the list holds a NULL.
 *    `x BETWEEN a AND b` is `x >= a AND x <= b`.
 *  - LIKE: `%` is any run, `_` one character; ASCII letters match either case, other characters only
 *    themselves; ESCAPE makes the next pattern character literal; a pattern ending in its escape
 *    character matches nothing. Departing from SQLite, LIKE sees only strings and 64-bit integers (as
 *    their decimal digits): reals, booleans, objects and arrays are unknown under LIKE, because SQLite's text
 *    for a real is not the shortest round trip and no JS reference could agree with it.
 *  - Filter numbers are doubles. A metadata integer beyond ±2^53 is the integer its JSON digits spell
 *    (SQLite reads it as a 64-bit integer) and compares exactly against doubles.
 */
import { ColtsError } from "../errors.js";

/** A value in a filter. Numbers must be finite; booleans mean 1 / 0. */
export type FilterLiteral = string | number | boolean | null;

/** The keys from the metadata root to a field: `["a", "b"]` for `a.b`. Keys may not contain `"`. */
export type FieldPath = readonly string[];

/** A comparison operator; `<>` and `==` parse to `!=` and `=`. */
export type CompareOp = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** A parsed filter. Built by `parseFilter`, or by hand for the API (`toSql` checks it). */
export type FilterNode =
  /** True when every arg is true (no args: true). */
  | { readonly kind: "and"; readonly args: readonly FilterNode[] }
  /** True when some arg is true (no args: false). */
  | { readonly kind: "or"; readonly args: readonly FilterNode[] }
  /** True when arg is false; unknown stays unknown. */
  | { readonly kind: "not"; readonly arg: FilterNode }
  /** `field op value`. */
  | { readonly kind: "compare"; readonly field: FieldPath; readonly op: CompareOp; readonly value: FilterLiteral }
  /** `field [NOT] IN (values)`; an empty list is false (NOT IN: true), as in SQLite. */
  | { readonly kind: "in"; readonly field: FieldPath; readonly values: readonly FilterLiteral[]; readonly negated: boolean }
  /** `field IS [NOT] NULL`. */
  | { readonly kind: "isNull"; readonly field: FieldPath; readonly negated: boolean }
  /** `field [NOT] LIKE pattern [ESCAPE escape]`; `escape` is one character or null. */
  | { readonly kind: "like"; readonly field: FieldPath; readonly pattern: string; readonly escape: string | null; readonly negated: boolean }
  /** `field [NOT] BETWEEN low AND high`. */
  | { readonly kind: "between"; readonly field: FieldPath; readonly low: FilterLiteral; readonly high: FilterLiteral; readonly negated: boolean };

/** A filter as SQL: a boolean expression over the JSON column `meta`. */
export interface SqlCondition {
  /** The expression, with `?` for every field path and value; it never contains a quote character. */
  sql: string;
  /** The values of the `?`s, in order. */
  params: (string | number | null)[];
}

/** Metadata as stored: a JSON object, or null for a document without metadata. */
export type DocMeta = Readonly<Record<string, unknown>>;

const KEYWORDS = new Set(["AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "BETWEEN", "TRUE", "FALSE", "ESCAPE"]);
/** Deepest nesting of NOT / parentheses: bounds recursion here and SQLite's expression depth (1000). */
export const MAX_DEPTH = 100;
/** SQLite's limit on bound parameters (SQLITE_MAX_VARIABLE_NUMBER). */
const MAX_PARAMS = 32766;
/** SQLite refuses longer LIKE patterns (SQLITE_LIMIT_LIKE_PATTERN_LENGTH). */
const MAX_LIKE_PATTERN = 50000;

// ---------------------------------------------------------------------------------------------------
// Lexer

type Token = { start: number; end: number } & (
  | { kind: "field"; path: string[] }
  | { kind: "keyword"; word: string }
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "punct"; value: string }
  | { kind: "end" }
);

const NUMBER_RE = /-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const BARE_FIRST_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const BARE_NEXT_RE = /[A-Za-z0-9_]+/y;
const PUNCT2 = new Set(["<=", ">=", "<>", "!=", "=="]);
const PUNCT1 = new Set(["(", ")", ",", "=", "<", ">"]);

function fail(text: string, pos: number, what: string, expected?: string): never {
  const column = [...text.slice(0, pos)].length + 1;
  const tail = expected === undefined ? "" : `: expected ${expected}`;
  throw new ColtsError("FILTER_INVALID", `${what} at column ${column} in ${JSON.stringify(text)}${tail}`, {
    details: { filter: text, column },
  });
}

/** Reads a `q`-quoted run starting at `start` (doubled `q` stands for one); returns text and end. */
function readQuoted(text: string, start: number, q: string): { value: string; end: number } {
  let value = "";
  let i = start + 1;
  for (;;) {
    const close = text.indexOf(q, i);
    if (close < 0) fail(text, start, `unterminated ${q === "'" ? "string" : "quoted name"}`);
    value += text.slice(i, close);
    if (text[close + 1] !== q) return { value, end: close + 1 };
    value += q;
    i = close + 2;
  }
}

function readPart(text: string, i: number, first: boolean): { part: string; bare: boolean; end: number } | null {
  if (text[i] === '"') {
    const { value, end } = readQuoted(text, i, '"');
    if (value === "") fail(text, i, "empty field name");
    // SQLite's JSON path syntax has no escape for '"' inside a quoted key.
    if (value.includes('"')) fail(text, i, "field names cannot contain '\"'");
    return { part: value, bare: false, end };
  }
  const re = first ? BARE_FIRST_RE : BARE_NEXT_RE;
  re.lastIndex = i;
  const m = re.exec(text);
  return m ? { part: m[0], bare: true, end: i + m[0].length } : null;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i] ?? "")) i++;
    const start = i;
    const c = text[i];
    if (c === undefined) {
      tokens.push({ kind: "end", start, end: start });
      return tokens;
    }
    if (c === "'") {
      const { value, end } = readQuoted(text, i, "'");
      tokens.push({ kind: "string", value, start, end });
      i = end;
      continue;
    }
    const first = readPart(text, i, true);
    if (first) {
      const path = [first.part];
      i = first.end;
      while (text[i] === ".") {
        const next = readPart(text, i + 1, false);
        if (!next) fail(text, i + 1, "missing field name after '.'");
        path.push(next.part);
        i = next.end;
      }
      const upper = first.part.toUpperCase();
      if (path.length === 1 && first.bare && KEYWORDS.has(upper)) tokens.push({ kind: "keyword", word: upper, start, end: i });
      else tokens.push({ kind: "field", path, start, end: i });
      continue;
    }
    NUMBER_RE.lastIndex = i;
    const num = NUMBER_RE.exec(text);
    if (num) {
      i += num[0].length;
      if (/[A-Za-z0-9_.]/.test(text[i] ?? "")) fail(text, start, `invalid number '${text.slice(start, i + 1)}'`);
      const value = Number(num[0]);
      if (!Number.isFinite(value)) fail(text, start, `number '${num[0]}' out of range`);
      tokens.push({ kind: "number", value, start, end: i });
      continue;
    }
    const two = text.slice(i, i + 2);
    const punct = PUNCT2.has(two) ? two : PUNCT1.has(c) ? c : null;
    if (punct === null) fail(text, i, `unexpected character ${JSON.stringify(String.fromCodePoint(text.codePointAt(i) ?? 0))}`);
    tokens.push({ kind: "punct", value: punct, start, end: i + punct.length });
    i += punct.length;
  }
}

// ---------------------------------------------------------------------------------------------------
// Parser

const CMP_TOKENS: Readonly<Record<string, CompareOp>> = {
  "=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
};

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  parse(): FilterNode {
    const node = this.parseOr();
    const tok = this.peek();
    if (tok.kind !== "end") this.unexpected(tok, "AND, OR or the end of the filter");
    return node;
  }

  /** The current token; the list ends with an "end" token that is never consumed. */
  private peek(): Token {
    const tok = this.tokens[this.pos];
    if (tok === undefined) throw new Error("filter parser ran past the end token");
    return tok;
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.kind !== "end") this.pos++;
    return tok;
  }

  private unexpected(tok: Token, expected: string): never {
    const what = tok.kind === "end" ? "unexpected end of filter" : `unexpected token '${this.text.slice(tok.start, tok.end)}'`;
    return fail(this.text, tok.start, what, expected);
  }

  private isKeyword(word: string): boolean {
    const tok = this.peek();
    return tok.kind === "keyword" && tok.word === word;
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.pos++;
    return true;
  }

  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) this.unexpected(this.peek(), word);
  }

  private expectPunct(value: string): void {
    const tok = this.next();
    if (tok.kind !== "punct" || tok.value !== value) this.unexpected(tok, `'${value}'`);
  }

  private parseOr(): FilterNode {
    const args = [this.parseAnd()];
    while (this.acceptKeyword("OR")) args.push(this.parseAnd());
    return args.length === 1 ? args[0]! : { kind: "or", args };
  }

  private parseAnd(): FilterNode {
    const args = [this.parseUnary()];
    while (this.acceptKeyword("AND")) args.push(this.parseUnary());
    return args.length === 1 ? args[0]! : { kind: "and", args };
  }

  private parseUnary(): FilterNode {
    const tok = this.peek();
    const isNot = tok.kind === "keyword" && tok.word === "NOT";
    const isParen = tok.kind === "punct" && tok.value === "(";
    if (!isNot && !isParen) return this.parsePredicate();
    if (++this.depth > MAX_DEPTH) fail(this.text, tok.start, `filter nested more than ${MAX_DEPTH} deep`);
    this.pos++;
    let node: FilterNode;
    if (isNot) {
      node = { kind: "not", arg: this.parseUnary() };
    } else {
      node = this.parseOr();
      this.expectPunct(")");
    }
    this.depth--;
    return node;
  }

  private parsePredicate(): FilterNode {
    const ftok = this.next();
    if (ftok.kind !== "field") return this.unexpected(ftok, "a field name, NOT or '('");
    const field = ftok.path;
    const tok = this.next();
    const cmp = tok.kind === "punct" ? CMP_TOKENS[tok.value] : undefined;
    if (cmp !== undefined) return { kind: "compare", field, op: cmp, value: this.parseLiteral() };
    if (tok.kind !== "keyword") return this.unexpected(tok, "a comparison, IN, IS, LIKE or BETWEEN");
    if (tok.word === "IS") {
      const negated = this.acceptKeyword("NOT");
      this.expectKeyword("NULL");
      return { kind: "isNull", field, negated };
    }
    const negated = tok.word === "NOT";
    const op = negated ? this.next() : tok;
    if (op.kind === "keyword" && op.word === "IN") {
      this.expectPunct("(");
      const values = [this.parseLiteral()];
      for (;;) {
        const sep = this.next();
        if (sep.kind === "punct" && sep.value === ")") break;
        if (sep.kind !== "punct" || sep.value !== ",") this.unexpected(sep, "',' or ')'");
        values.push(this.parseLiteral());
      }
      return { kind: "in", field, values, negated };
    }
    if (op.kind === "keyword" && op.word === "LIKE") {
      const pattern = this.next();
      if (pattern.kind !== "string") return this.unexpected(pattern, "a quoted pattern");
      let escape: string | null = null;
      if (this.acceptKeyword("ESCAPE")) {
        const esc = this.next();
        if (esc.kind !== "string") return this.unexpected(esc, "a quoted escape character");
        if ([...esc.value].length !== 1) fail(this.text, esc.start, "ESCAPE takes exactly one character");
        escape = esc.value;
      }
      return { kind: "like", field, pattern: pattern.value, escape, negated };
    }
    if (op.kind === "keyword" && op.word === "BETWEEN") {
      const low = this.parseLiteral();
      this.expectKeyword("AND");
      return { kind: "between", field, low, high: this.parseLiteral(), negated };
    }
    return this.unexpected(op, negated ? "IN, LIKE or BETWEEN" : "a comparison, IN, IS, LIKE or BETWEEN");
  }

  private parseLiteral(): FilterLiteral {
    const tok = this.next();
    if (tok.kind === "string" || tok.kind === "number") return tok.value;
    if (tok.kind === "keyword" && tok.word === "TRUE") return true;
    if (tok.kind === "keyword" && tok.word === "FALSE") return false;
    if (tok.kind === "keyword" && tok.word === "NULL") return null;
    return this.unexpected(tok, "a value (quoted string, number, TRUE, FALSE or NULL)");
  }
}

/** Parses filter text; throws FILTER_INVALID naming the column of the first problem. */
export function parseFilter(text: string): FilterNode {
  return new Parser(text, tokenize(text)).parse();
}

// ---------------------------------------------------------------------------------------------------
// Checks shared by toSql and the evaluator, for trees built by hand

function invalidTree(message: string): ColtsError {
  return new ColtsError("FILTER_INVALID", message);
}

/** The JSON path SQLite wants for a field: each key quoted, so keys need no escaping but '"'. Checks the keys (FILTER_INVALID). */
export function jsonPath(field: FieldPath): string {
  if (!Array.isArray(field) || field.length === 0) throw invalidTree("a filter field needs at least one key");
  let path = "$";
  for (const key of field) {
    if (typeof key !== "string" || key === "" || key.includes('"')) {
      throw invalidTree(`invalid filter field key ${JSON.stringify(key)}: keys are non-empty strings without '"'`);
    }
    path += `."${key}"`;
  }
  return path;
}

/** A literal as the value SQLite compares: booleans become 1 / 0. Checks it (FILTER_INVALID). */
export function literalValue(value: FilterLiteral): string | number | null {
  if (value === null || typeof value === "string") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw invalidTree(`invalid filter value ${String(value)}: expected a string, finite number, boolean or null`);
}

/** Checks a LIKE pattern and escape (FILTER_INVALID). */
export function checkLike(pattern: string, escape: string | null): void {
  if (typeof pattern !== "string") throw invalidTree("a LIKE pattern must be a string");
  if (pattern.length > MAX_LIKE_PATTERN) throw invalidTree(`LIKE pattern longer than ${MAX_LIKE_PATTERN} characters`);
  if (escape !== null && (typeof escape !== "string" || [...escape].length !== 1)) {
    throw invalidTree("a LIKE escape must be exactly one character");
  }
}

export function unknownKind(node: never): ColtsError {
  return invalidTree(`unknown filter node kind ${JSON.stringify((node as { kind?: unknown }).kind)}`);
}

// ---------------------------------------------------------------------------------------------------
// SQL

const SQL_OP: Readonly<Record<CompareOp, string>> = { "=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=" };

/**
 * The filter as a parameterised SQL condition on the JSON (or JSONB) column `meta`. Every field path
 * and value is a bound parameter, so `sql` holds only keywords, operators, `?`, parentheses and
 * `json_extract` / `json_type`. AND / OR chains become balanced trees, keeping long chains within
 * SQLite's expression depth. Throws FILTER_INVALID for a malformed tree or one too big for SQLite.
 */
export function toSql(node: FilterNode): SqlCondition {
  const params: (string | number | null)[] = [];
  const sql = emit(node, params, 0);
  if (params.length > MAX_PARAMS) throw invalidTree(`filter needs ${params.length} values, more than SQLite's ${MAX_PARAMS}`);
  return { sql, params };
}

function emit(node: FilterNode, params: (string | number | null)[], depth: number): string {
  if (depth > MAX_DEPTH) throw invalidTree(`filter nested more than ${MAX_DEPTH} deep`);
  const field = (f: FieldPath): string => {
    params.push(jsonPath(f));
    return "json_extract(meta, ?)";
  };
  const bind = (v: FilterLiteral): string => {
    params.push(literalValue(v));
    return "?";
  };
  switch (node.kind) {
    case "and":
    case "or": {
      if (node.args.length === 0) return node.kind === "and" ? "1" : "0";
      const parts = node.args.map((a) => emit(a, params, depth + 1));
      return balanced(parts, node.kind === "and" ? "AND" : "OR", 0, parts.length);
    }
    case "not":
      return `(NOT ${emit(node.arg, params, depth + 1)})`;
    case "compare": {
      const op = SQL_OP[node.op] as string | undefined;
      if (op === undefined) throw invalidTree(`unknown comparison ${JSON.stringify(node.op)}`);
      return `(${field(node.field)} ${op} ${bind(node.value)})`;
    }
    case "in":
      // SQLite: an empty list is false even for NULL, so no operand is needed.
      if (node.values.length === 0) return node.negated ? "1" : "0";
      return `(${field(node.field)} ${node.negated ? "NOT IN" : "IN"} (${node.values.map(bind).join(", ")}))`;
    case "isNull":
      return `(${field(node.field)} ${node.negated ? "IS NOT NULL" : "IS NULL"})`;
    case "between":
      return `(${field(node.field)} ${node.negated ? "NOT BETWEEN" : "BETWEEN"} ${bind(node.low)} AND ${bind(node.high)})`;
    case "like": {
      checkLike(node.pattern, node.escape);
      // Only strings and 64-bit integers reach LIKE (see the module comment); anything else is NULL.
      // json_type tells booleans (1 / 0 to json_extract) from integers; typeof tells integers that
      // overflow 64 bits (json_type "integer", but extracted as reals) from those that fit.
      const path = jsonPath(node.field);
      params.push(path, "text", "integer", path, "text", "integer", path, node.pattern);
      const escape = node.escape === null ? "" : " ESCAPE ?";
      if (node.escape !== null) params.push(node.escape);
      const like = node.negated ? "NOT LIKE" : "LIKE";
      const isTextOrInt = "json_type(meta, ?) IN (?, ?) AND typeof(json_extract(meta, ?)) IN (?, ?)";
      return `(CASE WHEN ${isTextOrInt} THEN json_extract(meta, ?) ${like} ?${escape} END)`;
    }
    default:
      throw unknownKind(node);
  }
}

function balanced(parts: string[], op: string, from: number, to: number): string {
  if (to - from === 1) return parts[from]!;
  const mid = (from + to) >> 1;
  return `(${balanced(parts, op, from, mid)} ${op} ${balanced(parts, op, mid, to)})`;
}

// ---------------------------------------------------------------------------------------------------
// Evaluator: the same semantics in JS

/** What json_extract gives: NULL, an integer (bigint beyond ±2^53), a real, or text. */
type SqlValue = number | bigint | string | null;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The 64-bit integer SQLite reads from the JSON text of `n`, or null when it reads a real. JSON holds
 * the shortest round-trip digits of the double, which for large integers is not the double itself.
 */
function jsonInteger(n: number): bigint | null {
  if (!Number.isInteger(n)) return null;
  const digits = String(n);
  if (digits.includes("e")) return null;
  const big = BigInt(digits);
  return big >= INT64_MIN && big <= INT64_MAX ? big : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function lookup(meta: DocMeta | null | undefined, field: FieldPath): unknown {
  let v: unknown = meta;
  for (const key of field) {
    if (!isObject(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

/** json_extract's value for a JS metadata value (as stored through JSON.stringify). */
function sqlValue(raw: unknown): SqlValue {
  if (typeof raw === "string") return raw;
  if (typeof raw === "boolean") return raw ? 1 : 0;
  if (typeof raw === "number") {
    if (!Number.isFinite(raw)) return null; // JSON.stringify writes null
    if (Number.isSafeInteger(raw) || !Number.isInteger(raw)) return raw;
    return jsonInteger(raw) ?? raw;
  }
  if (typeof raw === "object" && raw !== null) return JSON.stringify(raw);
  return null; // undefined (missing), null, and what JSON cannot hold
}

/** The text LIKE sees: strings, and integers as their digits; null for everything else. */
function likeText(raw: unknown): string | null {
  if (typeof raw === "string") return raw;
  if (typeof raw === "number" && Number.isFinite(raw) && jsonInteger(raw) !== null) return String(raw);
  return null;
}

/** UTF-16 order differs from code-point order only where a surrogate meets U+E000..U+FFFF. */
function codePointKey(unit: number): number {
  return unit >= 0xd800 ? (unit >= 0xe000 ? unit - 0x800 : unit + 0x2000) : unit;
}

function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointKey(x) - codePointKey(y);
  }
  return a.length - b.length;
}

/** SQLite's order for values without affinity: numbers (exactly, across int and real) before text. */
function compareValues(a: number | bigint | string, b: number | bigint | string): number {
  if (typeof a === "string" || typeof b === "string") {
    if (typeof a !== "string") return -1;
    if (typeof b !== "string") return 1;
    return compareText(a, b);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function compare(op: CompareOp, a: SqlValue, b: SqlValue): boolean | null {
  if (a === null || b === null) return null;
  const c = compareValues(a, b);
  switch (op) {
    case "=":
      return c === 0;
    case "!=":
      return c !== 0;
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    case ">=":
      return c >= 0;
    default:
      throw invalidTree(`unknown comparison ${JSON.stringify(op satisfies never)}`);
  }
}

function not3(v: boolean | null): boolean | null {
  return v === null ? null : !v;
}

function and3(a: boolean | null, b: boolean | null): boolean | null {
  if (a === false || b === false) return false;
  return a === null || b === null ? null : true;
}

const likeCache = new Map<string, RegExp>();

/** SQLite's LIKE as an anchored regular expression over code points. */
function likeRegex(pattern: string, escape: string | null): RegExp {
  const key = `${escape ?? ""}\u0000${pattern}`;
  const cached = likeCache.get(key);
  if (cached) return cached;
  const source = likeSource(pattern, escape) ?? "(?!)"; // a trailing escape matches nothing
  const re = new RegExp(`^(?:${source})$`, "su");
  if (likeCache.size >= 256) likeCache.clear();
  likeCache.set(key, re);
  return re;
}

/**
 * A LIKE pattern as regular-expression source, valid in JS (flags "su") and in PostgreSQL's advanced
 * regular expressions alike: `%` is `.*`, `_` is `.`, ASCII letters match either case, everything else
 * is literal. Null when the pattern ends in its escape character (it matches nothing).
 */
export function likeSource(pattern: string, escape: string | null): string | null {
  const literal = (c: string): string =>
    /[A-Za-z]/.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
  let source = "";
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === escape) {
      const next = chars[++i];
      if (next === undefined) return null;
      source += literal(next);
    } else if (c === "%") source += ".*";
    else if (c === "_") source += ".";
    else source += literal(c);
  }
  return source;
}

/**
 * The filter's value for one document's metadata under SQL's three-valued logic: true, false, or null
 * (unknown). Throws FILTER_INVALID for a malformed tree.
 */
export function evaluateFilter(node: FilterNode, meta: DocMeta | null | undefined): boolean | null {
  switch (node.kind) {
    case "and": {
      let result: boolean | null = true;
      for (const arg of node.args) {
        const v = evaluateFilter(arg, meta);
        if (v === false) return false;
        if (v === null) result = null;
      }
      return result;
    }
    case "or": {
      let result: boolean | null = false;
      for (const arg of node.args) {
        const v = evaluateFilter(arg, meta);
        if (v === true) return true;
        if (v === null) result = null;
      }
      return result;
    }
    case "not":
      return not3(evaluateFilter(node.arg, meta));
    case "compare":
      jsonPath(node.field);
      return compare(node.op, sqlValue(lookup(meta, node.field)), literalValue(node.value));
    case "in": {
      jsonPath(node.field);
      const values = node.values.map(literalValue);
      if (values.length === 0) return node.negated;
      const x = sqlValue(lookup(meta, node.field));
      if (x === null) return null;
      let sawNull = false;
      for (const v of values) {
        if (v === null) sawNull = true;
        else if (compareValues(x, v) === 0) return !node.negated;
      }
      return sawNull ? null : node.negated;
    }
    case "isNull":
      jsonPath(node.field);
      return (sqlValue(lookup(meta, node.field)) === null) !== node.negated;
    case "between": {
      jsonPath(node.field);
      const x = sqlValue(lookup(meta, node.field));
      const inside = and3(compare(">=", x, literalValue(node.low)), compare("<=", x, literalValue(node.high)));
      return node.negated ? not3(inside) : inside;
    }
    case "like": {
      jsonPath(node.field);
      checkLike(node.pattern, node.escape);
      const text = likeText(lookup(meta, node.field));
      if (text === null) return null;
      return likeRegex(node.pattern, node.escape).test(text) !== node.negated;
    }
    default:
      throw unknownKind(node);
  }
}

/** Whether a document with this metadata passes the filter (the condition is true, not unknown). */
export function matches(node: FilterNode, meta: DocMeta | null | undefined): boolean {
  return evaluateFilter(node, meta) === true;
}

// ---------------------------------------------------------------------------------------------------
// Printing

function formatField(field: FieldPath): string {
  return field
    .map((key, i) => {
      const bare = (i === 0 ? /^[A-Za-z_][A-Za-z0-9_]*$/ : /^[A-Za-z0-9_]+$/).test(key);
      return bare && !(field.length === 1 && KEYWORDS.has(key.toUpperCase())) ? key : `"${key.replace(/"/g, '""')}"`;
    })
    .join(".");
}

function formatLiteral(value: FilterLiteral): string {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "number") return String(literalValue(value));
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Filter text for a tree; `parseFilter(formatFilter(t))` gives back `t` (for trees whose AND / OR
 * have two or more args). Throws FILTER_INVALID for an empty AND / OR, which has no text.
 */
export function formatFilter(node: FilterNode): string {
  const group = (n: FilterNode): string => (n.kind === "and" || n.kind === "or" ? `(${formatFilter(n)})` : formatFilter(n));
  const not = (negated: boolean, word: string): string => (negated ? `NOT ${word}` : word);
  switch (node.kind) {
    case "and":
    case "or":
      if (node.args.length === 0) throw invalidTree(`an empty ${node.kind.toUpperCase()} has no filter text`);
      return node.args.map(group).join(` ${node.kind.toUpperCase()} `);
    case "not":
      return `NOT ${group(node.arg)}`;
    case "compare":
      return `${formatField(node.field)} ${node.op} ${formatLiteral(node.value)}`;
    case "in":
      return `${formatField(node.field)} ${not(node.negated, "IN")} (${node.values.map(formatLiteral).join(", ")})`;
    case "isNull":
      return `${formatField(node.field)} IS ${node.negated ? "NOT NULL" : "NULL"}`;
    case "between":
      return `${formatField(node.field)} ${not(node.negated, "BETWEEN")} ${formatLiteral(node.low)} AND ${formatLiteral(node.high)}`;
    case "like": {
      const escape = node.escape === null ? "" : ` ESCAPE ${formatLiteral(node.escape)}`;
      return `${formatField(node.field)} ${not(node.negated, "LIKE")} ${formatLiteral(node.pattern)}${escape}`;
    }
    default:
      throw unknownKind(node);
  }
}
