/**
 * The FDE helpers of the PostgreSQL index (no server): stored settings reproduce the encoder they
 * came from, the halfvec text form, and the pgvector version check.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveFdeConfig } from "../../src/muvera/config.js";
import { FdeEncoder } from "../../src/muvera/fde.js";
import { encoderFor, fdeConfigOf, halfvecLiteral, resolvePgFde } from "../../src/pg/fde.js";
import { olderThanMinimum } from "../../src/pg/schema.js";

test("stored FDE settings give back the same config and the same encodings (identity, dense, final projection, fill, seed)", () => {
  const x = Float32Array.from({ length: 5 * 16 }, (_, i) => Math.sin(i * 1.7));
  const cases = [
    {},
    { repetitions: 3, simhashBits: 2, projectionDim: "identity" as const },
    { repetitions: 2, simhashBits: 3, projectionDim: 8, projection: "dense" as const, fillEmptyPartitions: true, seed: 7 },
    { repetitions: 4, simhashBits: 4, projectionDim: 16, finalDim: 300 },
  ];
  for (const opts of cases) {
    const stored = resolvePgFde(opts, 16);
    assert.deepEqual(resolveFdeConfig(fdeConfigOf(stored)), stored, JSON.stringify(opts));
    const direct = new FdeEncoder({ ...opts, dim: 16 });
    const again = encoderFor(stored, "test");
    assert.deepEqual(again.document(x, 5), direct.document(x, 5));
    assert.deepEqual(again.query(x, 5), direct.query(x, 5));
  }
  assert.throws(() => encoderFor({ ...resolvePgFde({}, 16), size: 100 }, "here"), (e: unknown) => (e as { code?: string }).code === "INDEX_CORRUPT");
});

test("halfvec text: five significant digits, zeros as 0, values past the half range clamped", () => {
  assert.equal(halfvecLiteral(Float32Array.from([0, -0, 1, -0.5, 0.123456789, 1e-7, 70000, -1e9])), "[0,0,1.0000,-0.50000,0.12346,1.0000e-7,65504,-65504]");
  assert.equal(halfvecLiteral(new Float32Array(0)), "[]");
});

test("pgvector versions older than 0.8.0 are refused", () => {
  for (const v of ["0.7.4", "0.4.1", "x", ""]) assert.ok(olderThanMinimum(v), v);
  for (const v of ["0.8.0", "0.8.1", "0.10.0", "1.0"]) assert.ok(!olderThanMinimum(v), v);
});
