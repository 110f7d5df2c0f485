/**
 * Metadata filters compiled to PostgreSQL (pg/filter-sql.ts): hand-checked cases, the exact decimal
 * expansion, that no filter text reaches the SQL, and a property test on a live server: PostgreSQL's
 * three-valued answer equals `evaluateFilter`'s for random filters over random metadata.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { evaluateFilter, formatFilter, parseFilter, type FilterNode } from "../../src/metadata/filter.js";
import { exactDecimal, filterToPgSql } from "../../src/pg/filter-sql.js";
import { Rng } from "../../src/util/rng.js";
import { randomFilter, randomMeta, SCALARS, withoutObjectComparisons } from "../helpers/filters.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

test("exactDecimal: the double's exact value, integers and fractions", () => {
  assert.equal(exactDecimal(0), "0");
  assert.equal(exactDecimal(-3), "-3");
  assert.equal(exactDecimal(2 ** 63), "9223372036854775808");
  assert.equal(exactDecimal(1e20), "100000000000000000000");
  assert.equal(exactDecimal(0.5), "0.5");
  assert.equal(exactDecimal(-1.25), "-1.25");
  assert.equal(exactDecimal(0.1), "0.1000000000000000055511151231257827021181583404541015625");
  assert.equal(exactDecimal(2 ** -3), "0.125");
});

/** Every quoted run in the SQL: only the compiler's own constants may be there. */
const OWN_QUOTED = new Set(["'string'", "'number'", "'boolean'", "'null'", "'{}'", '"C"']);

test("the SQL holds no text of the filter: keys, strings, numbers and patterns are all parameters", () => {
  const rng = new Rng(99);
  for (let i = 0; i < 300; i++) {
    const node = randomFilter(rng, 0);
    const { sql, params } = filterToPgSql(node, "t.meta", 4);
    for (const q of sql.match(/'[^']*'|"[^"]*"/g) ?? []) assert.ok(OWN_QUOTED.has(q), `${q} in ${sql}`);
    assert.ok(/^[A-Za-z0-9_ ()$:<>=!~,.'"{}#[\]-]*$/.test(sql), sql);
    // Placeholders are numbered from the first one given, without gaps.
    const used = new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    for (const p of params.flat()) assert.equal(typeof p, "string");
    assert.deepEqual([...used].sort((a, b) => a - b), params.map((_, j) => j + 4));
  }
});

describe("filters in PostgreSQL", () => {
  let server: TestPostgres;
  let c: pg.Client;
  const rng = new Rng(424242);
  const metas = Array.from({ length: 300 }, () => randomMeta(rng, SCALARS));
  before(async () => {
    server = await startPostgres();
    c = new pg.Client(server.config);
    await c.connect();
    await c.query("CREATE TABLE t (id integer PRIMARY KEY, meta jsonb)");
    await c.query("INSERT INTO t SELECT i - 1, m FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(m, i)", [metas.map((m) => (m === null ? null : JSON.stringify(m)))]);
  });
  after(async () => {
    await c?.end();
    server?.stop();
  });

  /** PostgreSQL's value of the condition per row: true, false or null. */
  async function answers(node: FilterNode): Promise<(boolean | null)[]> {
    const { sql, params } = filterToPgSql(node, "t.meta", 1);
    const r = await c.query<{ v: boolean | null }>(`SELECT (${sql}) AS v FROM t ORDER BY id`, params);
    return r.rows.map((row) => row.v);
  }

  test("hand-checked cases", async () => {
    const cases: [string, Record<string, unknown> | null, boolean | null][] = [
      ["year >= 2000", { year: 2000 }, true],
      ["year = '2000'", { year: 2000 }, false],
      ["year < 'a'", { year: 2000 }, true],
      ["s > 5", { s: "a" }, true],
      ["x = 0.1", { x: 0.1 }, true],
      ["x = 0.30000000000000004", { x: 0.1 + 0.2 }, true],
      ["x < 0.3", { x: 0.1 + 0.2 }, false],
      // JSON.stringify writes 2^60 as 1152921504606847000, which SQLite reads as that 64-bit integer.
      ["big = 1152921504606846976", { big: 2 ** 60 }, false],
      ["big = 1152921504606847000", { big: 2 ** 60 }, false],
      ["big > 1152921504606846976", { big: 2 ** 60 }, true],
      ["big > 1152921504606846976", { big: 2 ** 60 + 2 ** 10 }, true],
      ["flag = TRUE", { flag: true }, true],
      ["flag = 1", { flag: true }, true],
      ["flag = 'true'", { flag: true }, false],
      ["a.b = 1", { a: [1, 2] }, null],
      ["a.\"0\" = 1", { a: [1, 2] }, null],
      ["a.b IS NULL", { a: 5 }, true],
      ["n = NULL", { n: null }, null],
      ["n IS NULL", { n: null }, true],
      ["n IS NOT NULL", { n: { x: 1 } }, true],
      ["x IN (1, NULL)", { x: 2 }, null],
      ["x NOT IN (1, NULL)", { x: 1 }, false],
      ["x BETWEEN 1 AND NULL", { x: 0 }, false],
      ["s LIKE 'AB%'", { s: "abc" }, true],
      ["s LIKE 'É%'", { s: "é" }, false],
      ["s LIKE 'a_c'", { s: "a😀c" }, true],
      ["s LIKE 'a.c'", { s: "abc" }, false],
      ["s LIKE '100!%' ESCAPE '!'", { s: "100%" }, true],
      ["s LIKE 'a!' ESCAPE '!'", { s: "a" }, false],
      ["s LIKE '%'", { s: "line\nbreak" }, true],
      ["year LIKE '19%'", { year: 1999 }, true],
      ["x LIKE '1.5'", { x: 1.5 }, null],
      ["x NOT LIKE 'a'", { x: true }, null],
      ["s > '\uE000'", { s: "😀" }, true],
      ["s < 'b'", { s: "B" }, true],
      // The documented difference: an object compares as NULL (SQLite compares its JSON text).
      ["o = '{\"x\":1}'", { o: { x: 1 } }, null],
    ];
    for (const [text, meta, want] of cases) {
      const node = parseFilter(text);
      const { sql, params } = filterToPgSql(node, "$1::jsonb", 2);
      const r = await c.query<{ v: boolean | null }>(`SELECT (${sql}) AS v`, [meta === null ? null : JSON.stringify(meta), ...params]);
      assert.equal(r.rows[0]?.v, want, `${text} on ${JSON.stringify(meta)}`);
      if (!text.startsWith("o =")) assert.equal(evaluateFilter(node, meta), want, `reference: ${text}`);
    }
  });

  test("property: PostgreSQL's three-valued answer equals evaluateFilter's on 500 random filters", async () => {
    let split = 0;
    for (let i = 0; i < 500; i++) {
      const node = withoutObjectComparisons(randomFilter(rng, 0));
      const want = metas.map((m) => evaluateFilter(node, m));
      assert.deepEqual(await answers(node), want, formatFilter(node));
      if (want.some((v) => v === true) && want.some((v) => v !== true)) split++;
    }
    assert.ok(split > 200, `only ${split} filters split the rows`);
  });

  test("IN edge cases: mixed types, NULL items, empty lists", async () => {
    for (const text of ["s IN ('a', 1, NULL)", "s NOT IN ('a', 1, NULL)", "n IN (1, TRUE, 'x')", "nest.y NOT IN (0.1, 2000.5)", "missing IN (NULL)"]) {
      const node = parseFilter(text);
      assert.deepEqual(await answers(node), metas.map((m) => evaluateFilter(node, m)), text);
    }
    for (const negated of [false, true]) {
      const node: FilterNode = { kind: "in", field: ["s"], values: [], negated };
      assert.deepEqual(await answers(node), metas.map((m) => evaluateFilter(node, m)));
    }
  });

  test("long IN lists and OR chains stay within PostgreSQL's limits", async () => {
    // Each comparison costs some 10 µs a row in PostgreSQL: 400 of them keep the test short.
    const chain = parseFilter(Array.from({ length: 400 }, (_, i) => `n = ${i - 200}`).join(" OR "));
    assert.deepEqual(await answers(chain), metas.map((m) => evaluateFilter(chain, m)));
    for (const negated of [false, true]) {
      const values = [...Array.from({ length: 5000 }, (_, i) => `v${i}`), "a", 2, 0.5, ...Array.from({ length: 5000 }, (_, i) => i * 7 + 0.25), null];
      const list: FilterNode = { kind: "in", field: ["s"], values, negated };
      assert.deepEqual(await answers(list), metas.map((m) => evaluateFilter(list, m)));
    }
  });
});
