import { test } from "node:test";
import assert from "node:assert/strict";
import { ColtsError, ERROR_CODES, reviveError, isColtsError } from "../src/errors.js";

test("ColtsError carries a stable code, cause and HTTP status", () => {
  const cause = new Error("disk");
  const e = new ColtsError("MODEL_NOT_FOUND", "no such model x/y", { cause, details: { tried: ["a"] } });
  assert.equal(e.code, "MODEL_NOT_FOUND");
  assert.equal(e.cause, cause);
  assert.equal(e.httpStatus, 404);
  assert.match(e.message, /^colts: no such model/);
  assert.ok(isColtsError(e, "MODEL_NOT_FOUND"));
  assert.ok(!isColtsError(e, "USAGE"));
});

test("errors survive a structured clone through toJSON/reviveError", () => {
  const e = new ColtsError("INPUT_INVALID", "line 3: not JSON", { details: { line: 3 } });
  const back = reviveError(structuredClone(e.toJSON()));
  assert.ok(back instanceof ColtsError);
  assert.equal(back.code, "INPUT_INVALID");
  assert.equal(back.message, e.message);
  assert.deepEqual(back.details, { line: 3 });
});

test("every code has an HTTP status in the 4xx/5xx range", () => {
  for (const [code, v] of Object.entries(ERROR_CODES)) {
    assert.ok(v.httpStatus >= 400 && v.httpStatus < 600, code);
  }
});
