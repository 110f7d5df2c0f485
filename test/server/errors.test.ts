/** Error answers (server/errors.ts): status and code per error kind; nothing internal leaks. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ColtsError } from "../../src/errors.js";
import { answerFor, scrubPaths } from "../../src/server/errors.js";

test("paths in messages become <path>; other text stays", () => {
  assert.equal(scrubPaths("cannot read /srv/idx/chunk-3.bin: truncated"), "cannot read <path>: truncated");
  assert.equal(scrubPaths("C:\\data\\idx\\manifest.json is missing"), "<path> is missing");
  assert.equal(scrubPaths("body/k must be <= 1000"), "body/k must be <= 1000");
});

test("4xx ColtsErrors keep their (scrubbed) message; 5xx ones answer the code's summary and are logged", () => {
  const logged: string[] = [];
  const log = (l: string): void => void logged.push(l);
  const bad = answerFor(new ColtsError("FILTER_INVALID", "unknown operator >>> in /etc/x/y"), log);
  assert.deepEqual([bad.status, bad.code, bad.message], [400, "FILTER_INVALID", "unknown operator >>> in <path>"]);
  assert.equal(logged.length, 0);
  const corrupt = answerFor(new ColtsError("INDEX_CORRUPT", "/srv/idx/chunk-1.bin: CRC mismatch"), log);
  assert.deepEqual([corrupt.status, corrupt.code, corrupt.message], [500, "INDEX_CORRUPT", "index corrupted"]);
  assert.equal(logged.length, 1, "logged on the server");
  const busy = answerFor(new ColtsError("QUEUE_FULL", "128 requests in progress"), log);
  assert.deepEqual([busy.status, busy.headers["retry-after"]], [503, "1"]);
  assert.match(busy.message, /128 requests/);
});

test("unknown errors are INTERNAL 500 without their message; fastify errors map to stable codes", () => {
  const logged: string[] = [];
  const internal = answerFor(new TypeError("x is undefined at /app/dist/src/server/y.js:3"), (l) => void logged.push(l));
  assert.deepEqual([internal.status, internal.code, internal.message], [500, "INTERNAL", "internal error"]);
  assert.match(logged[0] ?? "", /TypeError/);
  const quiet = (): void => undefined;
  assert.equal(answerFor({ statusCode: 413, code: "FST_ERR_CTP_BODY_TOO_LARGE" }, quiet).code, "LIMIT_EXCEEDED");
  assert.equal(answerFor({ statusCode: 415 }, quiet).code, "UNSUPPORTED_MEDIA_TYPE");
  assert.equal(answerFor({ statusCode: 400, code: "FST_ERR_CTP_EMPTY_JSON_BODY" }, quiet).code, "INPUT_INVALID");
  assert.equal(answerFor({ validation: [{ keyword: "maxItems" }], message: "body/queries must NOT have more than 3 items" }, quiet).code, "LIMIT_EXCEEDED");
  assert.equal(answerFor({ validation: [{ keyword: "type" }], message: "body/k must be integer" }, quiet).code, "INPUT_INVALID");
  assert.equal(answerFor(new ColtsError("UNAUTHORIZED", "no token"), quiet).headers["www-authenticate"], 'Bearer realm="colts"');
});
