import { after, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { evaluateFilter, formatFilter, matches, parseFilter, toSql, type FilterNode } from "../../src/metadata/filter.js";
import { MetadataStore } from "../../src/metadata/sqlite-store.js";
import { Rng } from "../../src/util/rng.js";
import { randomFilter, randomMeta } from "../helpers/filters.js";
import { suiteDir } from "../helpers/paths.js";

const f = (...path: string[]): string[] => path;

test("every construct parses to its tree", () => {
  const cases: [string, FilterNode][] = [
    ["year > 2000", { kind: "compare", field: f("year"), op: ">", value: 2000 }],
    ["a.b.c = 'x'", { kind: "compare", field: f("a", "b", "c"), op: "=", value: "x" }],
    ['"my field" <= -2.5e-3', { kind: "compare", field: f("my field"), op: "<=", value: -0.0025 }],
    ['meta."a b".0 >= .5', { kind: "compare", field: f("meta", "a b", "0"), op: ">=", value: 0.5 }],
    ['"in" <> 1', { kind: "compare", field: f("in"), op: "!=", value: 1 }],
    ["x.in != 1", { kind: "compare", field: f("x", "in"), op: "!=", value: 1 }],
    ["x == 1E3", { kind: "compare", field: f("x"), op: "=", value: 1000 }],
    ["x < 'it''s'", { kind: "compare", field: f("x"), op: "<", value: "it's" }],
    ["flag = TRUE", { kind: "compare", field: f("flag"), op: "=", value: true }],
    ["flag = false", { kind: "compare", field: f("flag"), op: "=", value: false }],
    ["x = Null", { kind: "compare", field: f("x"), op: "=", value: null }],
    ["lang IN ('en', 'fr', 3, NULL)", { kind: "in", field: f("lang"), values: ["en", "fr", 3, null], negated: false }],
    ["lang not in ('en')", { kind: "in", field: f("lang"), values: ["en"], negated: true }],
    ["x IS NULL", { kind: "isNull", field: f("x"), negated: false }],
    ["x is not null", { kind: "isNull", field: f("x"), negated: true }],
    ["t LIKE 'pat%'", { kind: "like", field: f("t"), pattern: "pat%", escape: null, negated: false }],
    ["t NOT LIKE '50\\%%' ESCAPE '\\'", { kind: "like", field: f("t"), pattern: "50\\%%", escape: "\\", negated: true }],
    ["y BETWEEN 1990 AND 1999.5", { kind: "between", field: f("y"), low: 1990, high: 1999.5, negated: false }],
    ["y NOT BETWEEN 'a' AND 'm'", { kind: "between", field: f("y"), low: "a", high: "m", negated: true }],
    ["NOT x = 1", { kind: "not", arg: { kind: "compare", field: f("x"), op: "=", value: 1 } }],
    ["(x = 1)", { kind: "compare", field: f("x"), op: "=", value: 1 }],
    ["\tx=1\n", { kind: "compare", field: f("x"), op: "=", value: 1 }],
  ];
  for (const [text, tree] of cases) assert.deepEqual(parseFilter(text), tree, text);
});

test("precedence: NOT over AND over OR; BETWEEN takes its own AND; parentheses group", () => {
  const a = { kind: "compare", field: f("a"), op: "=", value: 1 } as const;
  const b = { kind: "compare", field: f("b"), op: "=", value: 2 } as const;
  const c = { kind: "compare", field: f("c"), op: "=", value: 3 } as const;
  assert.deepEqual(parseFilter("a = 1 OR b = 2 AND c = 3"), { kind: "or", args: [a, { kind: "and", args: [b, c] }] });
  assert.deepEqual(parseFilter("a = 1 and b = 2 or c = 3"), { kind: "or", args: [{ kind: "and", args: [a, b] }, c] });
  assert.deepEqual(parseFilter("NOT a = 1 AND b = 2"), { kind: "and", args: [{ kind: "not", arg: a }, b] });
  assert.deepEqual(parseFilter("not (a = 1 OR b = 2)"), { kind: "not", arg: { kind: "or", args: [a, b] } });
  assert.deepEqual(parseFilter("NOT NOT a = 1"), { kind: "not", arg: { kind: "not", arg: a } });
  assert.deepEqual(parseFilter("a = 1 AND (b = 2 AND c = 3)"), { kind: "and", args: [a, { kind: "and", args: [b, c] }] });
  assert.deepEqual(parseFilter("a = 1 AND b = 2 AND c = 3"), { kind: "and", args: [a, b, c] });
  const between = { kind: "between", field: f("y"), low: 1, high: 2, negated: false } as const;
  assert.deepEqual(parseFilter("a = 1 AND y BETWEEN 1 AND 2 AND c = 3"), { kind: "and", args: [a, between, c] });
});

test("syntax errors are FILTER_INVALID with the column and the filter text", () => {
  const cases: [string, number, RegExp][] = [
    ["year > 2000 AND )", 17, /^colts: unexpected token '\)' at column 17 in "year > 2000 AND \)": expected a field name/],
    ["year >", 7, /unexpected end of filter at column 7 .*expected a value/],
    ["year 2000", 6, /unexpected token '2000' at column 6 .*expected a comparison/],
    ["name = 'abc", 8, /unterminated string at column 8/],
    ['"name = 1', 1, /unterminated quoted name at column 1/],
    ["a = 1 b = 2", 7, /unexpected token 'b' at column 7 .*expected AND, OR or the end/],
    ["(a = 1", 7, /unexpected end of filter at column 7 .*expected '\)'/],
    ["a IN ()", 7, /unexpected token '\)' at column 7 .*expected a value/],
    ["a IN (1 2)", 9, /expected ',' or '\)'/],
    ["a LIKE 5", 8, /expected a quoted pattern/],
    ["a LIKE 'x' ESCAPE 'ab'", 19, /ESCAPE takes exactly one character/],
    ["a = 1 # 2", 7, /unexpected character "#" at column 7/],
    ["a. = 1", 3, /missing field name after '.'/],
    ['"" = 1', 1, /empty field name/],
    ['"a""b" = 1', 1, /field names cannot contain/],
    ["a = 12abc", 5, /invalid number/],
    ["a = 1e999", 5, /out of range/],
    ["", 1, /unexpected end of filter at column 1 in ""/],
    ["a NOT NULL", 7, /expected IN, LIKE or BETWEEN/],
    ["AND = 1", 1, /unexpected token 'AND' at column 1/],
    ["a IS 1", 6, /expected NULL/],
    ["a BETWEEN 1 OR 2", 13, /expected AND/],
    ['"😀" = )', 7, /unexpected token '\)' at column 7/],
    [`${"NOT ".repeat(101)}a = 1`, 401, /nested more than 100 deep/],
  ];
  for (const [text, column, message] of cases) {
    assert.throws(
      () => parseFilter(text),
      (e: Error & { code?: string; details?: { column?: number; filter?: string } }) => {
        assert.equal(e.code, "FILTER_INVALID", text);
        assert.match(e.message, message, text);
        assert.equal(e.details?.column, column, text);
        assert.equal(e.details?.filter, text);
        return true;
      },
    );
  }
});

test("toSql binds every field path and literal: no quotes and no names in the SQL text", () => {
  assert.deepEqual(toSql(parseFilter("year > 2000 AND lang IN ('en', 'fr')")), {
    sql: "((json_extract(meta, ?) > ?) AND (json_extract(meta, ?) IN (?, ?)))",
    params: ['$."year"', 2000, '$."lang"', "en", "fr"],
  });
  assert.deepEqual(toSql(parseFilter("flag = true OR x IS NOT NULL")), {
    sql: "((json_extract(meta, ?) = ?) OR (json_extract(meta, ?) IS NOT NULL))",
    params: ['$."flag"', 1, '$."x"'],
  });
  const text =
    `secretfield = 'x'' OR 1=1 --' AND "dangerous'name" LIKE '%'';DROP TABLE docs;--' ESCAPE '!' ` +
    `OR NOT deep.path.here BETWEEN 'a' AND 'b' OR other NOT IN (1, 'two', NULL) OR "a\\b" <> FALSE`;
  const { sql, params } = toSql(parseFilter(text));
  assert.doesNotMatch(sql, /['"`;]|--/);
  for (const name of ["secretfield", "dangerous", "deep", "path", "here", "other", "DROP", "docs", "two"]) {
    assert.ok(!sql.includes(name), `${name} in ${sql}`);
  }
  assert.match(sql, /^[A-Za-z_(), ?<>=!01]+$/);
  assert.equal(sql.split("?").length - 1, params.length);
  assert.ok(params.includes("x' OR 1=1 --") && params.includes("%';DROP TABLE docs;--") && params.includes('$."dangerous\'name"'));
});

test("toSql and the evaluator refuse malformed hand-built trees", () => {
  const bad: unknown[] = [
    { kind: "compare", field: [], op: "=", value: 1 },
    { kind: "compare", field: ['a"b'], op: "=", value: 1 },
    { kind: "compare", field: [""], op: "=", value: 1 },
    { kind: "compare", field: ["a"], op: "~", value: 1 },
    { kind: "compare", field: ["a"], op: "=", value: Number.NaN },
    { kind: "compare", field: ["a"], op: "=", value: {} },
    { kind: "like", field: ["a"], pattern: "x", escape: "ab", negated: false },
    { kind: "like", field: ["a"], pattern: "x".repeat(50001), escape: null, negated: false },
    { kind: "xor", args: [] },
    { kind: "in", field: ["a"], values: new Array<number>(40000).fill(1), negated: false },
  ];
  for (const node of bad) {
    assert.throws(() => toSql(node as FilterNode), { code: "FILTER_INVALID" }, JSON.stringify(node).slice(0, 80));
  }
  for (const node of bad.slice(0, 9)) {
    assert.throws(() => evaluateFilter(node as FilterNode, { a: 1 }), { code: "FILTER_INVALID" }, JSON.stringify(node).slice(0, 80));
  }
});

test("evaluator semantics: NULL is unknown, no type conversion, booleans are 1/0, LIKE only on strings and integers", () => {
  const is = (text: string, meta: Record<string, unknown> | null): boolean | null => evaluateFilter(parseFilter(text), meta);
  assert.equal(is("x = NULL", { x: null }), null);
  assert.equal(is("x IS NULL", {}), true);
  assert.equal(is("x IS NULL", null), true);
  assert.equal(is("x.y IS NULL", { x: 5 }), true);
  assert.equal(is("NOT x = 1", {}), null);
  assert.equal(matches(parseFilter("NOT x = 1"), {}), false);
  assert.equal(is("x = 1 OR y = 1", { y: 1 }), true);
  assert.equal(is("x = 1 AND y = 1", { y: 2 }), false);
  assert.equal(is("year = '2000'", { year: 2000 }), false);
  assert.equal(is("year < 'a'", { year: 2000 }), true);
  assert.equal(is("flag = 1", { flag: true }), true);
  assert.equal(is("flag = TRUE", { flag: 1 }), true);
  assert.equal(is("x = 2", { x: 2.0 }), true);
  assert.equal(is("x IN (1, NULL)", { x: 2 }), null);
  assert.equal(is("x NOT IN (1, NULL)", { x: 1 }), false);
  assert.equal(is("x BETWEEN 1 AND NULL", { x: 0 }), false);
  assert.equal(is("x BETWEEN 1 AND NULL", { x: 2 }), null);
  assert.equal(is("s LIKE 'AB%'", { s: "abc" }), true);
  assert.equal(is("s LIKE 'É%'", { s: "é" }), false);
  assert.equal(is("s LIKE 'a_c'", { s: "a😀c" }), true);
  assert.equal(is("s LIKE '100!%' ESCAPE '!'", { s: "100%" }), true);
  assert.equal(is("s LIKE '100!%' ESCAPE '!'", { s: "1000" }), false);
  assert.equal(is("s LIKE 'a!' ESCAPE '!'", { s: "a" }), false);
  assert.equal(is("year LIKE '19%'", { year: 1999 }), true);
  assert.equal(is("x LIKE '1.5'", { x: 1.5 }), null);
  assert.equal(is("x NOT LIKE 'a'", { x: true }), null);
  assert.equal(is("s > 'z'", { s: "😀" }), true);
  assert.equal(is("s > '\uE000'", { s: "😀" }), true); // code-point order, not UTF-16 order
});

// ---------------------------------------------------------------------------------------------------
// Property test: the SQL that toSql writes, run by SQLite, selects exactly the rows the evaluator accepts.

const dir = suiteDir();
const N = 300;
const rng = new Rng(20240611);
const metas = Array.from({ length: N }, () => randomMeta(rng));
const store = MetadataStore.open(path.join(dir, "prop.sqlite"));
after(() => store.close());
store.insert(metas.map((meta, ordinal) => ({ ordinal, id: `d${ordinal}`, meta })));
// Leftovers of an interrupted add (beyond the limit) must never show up.
store.insert(metas.slice(0, 20).map((meta, i) => ({ ordinal: N + i, id: `left${i}`, meta })));

function expected(node: FilterNode): number[] {
  return metas.flatMap((meta, ordinal) => (matches(node, meta) ? [ordinal] : []));
}

test("property: SQLite's answer equals the evaluator's on 600 random filters over random metadata", () => {
  let nonTrivial = 0;
  for (let i = 0; i < 600; i++) {
    const node = randomFilter(rng, 0);
    const text = formatFilter(node);
    assert.deepEqual(parseFilter(text), node, `round trip of ${text}`);
    const want = expected(node);
    assert.deepEqual(Array.from(store.filterOrdinals(node, N)), want, text);
    if (want.length > 0 && want.length < N) nonTrivial++;
  }
  assert.ok(nonTrivial > 300, `only ${nonTrivial} filters split the rows`);
});

test("property: text filters run the same as their trees; empty lists and long chains work in SQLite", () => {
  const node = randomFilter(new Rng(7), 0);
  assert.deepEqual(store.filterOrdinals(formatFilter(node), N), store.filterOrdinals(node, N));
  const handBuilt: FilterNode[] = [
    { kind: "in", field: ["a"], values: [], negated: false },
    { kind: "in", field: ["missing"], values: [], negated: true },
    { kind: "and", args: [] },
    { kind: "or", args: [] },
    { kind: "and", args: [{ kind: "isNull", field: ["a"], negated: true }] },
  ];
  for (const h of handBuilt) assert.deepEqual(Array.from(store.filterOrdinals(h, N)), expected(h), JSON.stringify(h));
  // 3000 ORs: a left-deep SQL tree would pass SQLite's expression depth limit (1000).
  const chain = Array.from({ length: 3000 }, (_, i) => `n = ${i - 1500}`).join(" OR ");
  const tree = parseFilter(chain);
  assert.deepEqual(Array.from(store.filterOrdinals(tree, N)), expected(tree));
});

test("an injection attempt in a literal matches only the literal", (t) => {
  const s = MetadataStore.open(path.join(dir, "inject.sqlite"));
  t.after(() => s.close());
  s.insert([
    { ordinal: 0, id: "a", meta: { name: "x' OR 1=1 --" } },
    { ordinal: 1, id: "b", meta: { name: "x" } },
    { ordinal: 2, id: "c", meta: { name: "y" } },
  ]);
  assert.deepEqual(Array.from(s.filterOrdinals("name = 'x'' OR 1=1 --'", 3)), [0]);
  assert.deepEqual(Array.from(s.filterOrdinals(`"name') OR 1=1 --" = 1 OR name = 'y'`, 3)), [2]);
  assert.deepEqual(Array.from(s.filterOrdinals("name LIKE '%''%'", 3)), [0]);
  assert.deepEqual(s.idsForOrdinals([0, 1, 2]), ["a", "b", "c"]);
});
