/**
 * Random metadata and filters for the filter language's property tests (SQLite in
 * test/metadata/filter.test.ts, PostgreSQL in test/pg/filter-sql.test.ts): values chosen to hit the
 * semantics' edges (integers beyond 2^53 and 2^63, reals, case and code-point order, LIKE's special
 * characters, booleans, NULL, nested objects and arrays).
 */
import type { FilterLiteral, FilterNode } from "../../src/metadata/filter.js";
import type { Rng } from "../../src/util/rng.js";

export const VALUES: unknown[] = [
  -2, -1, 0, 1, 2, 3, 2000, 2 ** 60, 2 ** 60 + 2 ** 10, 2 ** 63, 1e20, -(2 ** 53) - 2,
  0.5, -1.5, 2.25, 0.1, 1 / 3, 1e-7, 2000.5,
  "", "a", "A", "b", "ab", "Ab", "abc", "a%c", "a_c", "é", "É", "z", "10", "2", "2000", "x'y", "😀", "\uE000", "a b", "%", "_", "\\",
  true, false, null, [1, "a"], { x: 1 },
];
export const LITERALS: FilterLiteral[] = VALUES.filter((v): v is FilterLiteral => v === null || typeof v !== "object");
export const FIELDS: string[][] = [["a"], ["b"], ["s"], ["n"], ["odd key"], ["nest", "x"], ["nest"], ["missing"], ["a", "x"], ["IN"]];
const LIKE_BITS = ["a", "A", "b", "%", "_", "é", "É", "1", "2", "0", "\\", "x", "'", "c", " "];

export function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[rng.int(list.length)]!;
}

/** Metadata over `values` (default VALUES): six scalar keys, `nest` mostly an object of two. */
export function randomMeta(rng: Rng, values: readonly unknown[] = VALUES): Record<string, unknown> | null {
  if (rng.next() < 0.05) return null;
  const meta: Record<string, unknown> = {};
  for (const key of ["a", "b", "s", "n", "odd key", "IN"]) if (rng.next() < 0.7) meta[key] = pick(rng, values);
  if (rng.next() < 0.7) meta.nest = rng.next() < 0.8 ? { x: pick(rng, values), y: pick(rng, values) } : pick(rng, values);
  return meta;
}

export function randomFilter(rng: Rng, depth: number): FilterNode {
  const r = rng.int(depth >= 3 ? 5 : 8);
  const field = pick(rng, FIELDS);
  const negated = rng.next() < 0.3;
  switch (r) {
    case 0:
      return { kind: "compare", field, op: pick(rng, ["=", "!=", "<", "<=", ">", ">="] as const), value: pick(rng, LITERALS) };
    case 1:
      return { kind: "in", field, values: Array.from({ length: 1 + rng.int(4) }, () => pick(rng, LITERALS)), negated };
    case 2:
      return { kind: "isNull", field, negated };
    case 3: {
      const pattern = Array.from({ length: rng.int(5) }, () => pick(rng, LIKE_BITS)).join("");
      return { kind: "like", field, pattern, escape: pick(rng, [null, null, "\\", "x", "%"]), negated };
    }
    case 4:
      return { kind: "between", field, low: pick(rng, LITERALS), high: pick(rng, LITERALS), negated };
    case 5:
      return { kind: "not", arg: randomFilter(rng, depth + 1) };
    default:
      return { kind: r === 6 ? "and" : "or", args: Array.from({ length: 2 + rng.int(2) }, () => randomFilter(rng, depth + 1)) };
  }
}

/** Values as jsonb keeps them: objects and arrays only where the compiler's documented difference cannot show. */
export const SCALARS = VALUES.filter((v) => v === null || typeof v !== "object");

/**
 * The same tree with every comparison, IN, BETWEEN or LIKE on `nest` (which holds objects) moved to
 * `nest.y`: comparing an object is the one documented difference; IS NULL on `nest` stays.
 */
export function withoutObjectComparisons(node: FilterNode): FilterNode {
  switch (node.kind) {
    case "and":
    case "or":
      return { ...node, args: node.args.map(withoutObjectComparisons) };
    case "not":
      return { ...node, arg: withoutObjectComparisons(node.arg) };
    case "isNull":
      return node;
    case "compare":
    case "in":
    case "between":
    case "like":
      return node.field.length === 1 && node.field[0] === "nest" ? { ...node, field: ["nest", "y"] } : node;
  }
}
