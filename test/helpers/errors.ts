/** Assertion helpers for ColtsErrors. */
import assert from "node:assert/strict";
import { ColtsError } from "../../src/errors.js";

/** A predicate for `assert.rejects`: a ColtsError with this code and, when given, a message matching `pattern`. */
export function isCode(code: string, pattern?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof ColtsError, String(e));
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}
