/** Error answers (server/errors.ts): status and code per error kind; nothing internal leaks. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ColtsError } from "../../src/errors.js";
import net, { type AddressInfo } from "node:net";
import { buildServer } from "../../src/server/build.js";
import type { Engine } from "../../src/server/engine.js";
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

test("scrubbing keeps what the caller sent and never touches schema messages", () => {
  const quiet = (): void => undefined;
  assert.equal(scrubPaths('no index named "../../etc/passwd" is served', "/indexes/../../etc/passwd/search"), 'no index named "../../etc/passwd" is served');
  assert.equal(scrubPaths("cannot read /srv/idx/chunk-3.bin", "/indexes/x/search"), "cannot read <path>");
  const notFound = answerFor(new ColtsError("INDEX_NOT_FOUND", 'no index named "../a/b" is served'), quiet, "/indexes/../a/b/search");
  assert.equal(notFound.message, 'no index named "../a/b" is served');
  const schema = answerFor({ validation: [{ keyword: "type" }], message: "body/documents/0/id must be string" }, quiet);
  assert.equal(schema.message, "body/documents/0/id must be string");
  assert.equal(answerFor({ statusCode: 400, code: "FST_ERR_CTP_INVALID_CONTENT_LENGTH" }, quiet).message, "the body's length does not match its Content-Length");
});

/** Sends raw bytes to the server, half-closes, and returns everything it answers until it closes. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let out = "";
    socket.on("data", (b: Buffer) => (out += b.toString()));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
    socket.end(bytes);
  });
}

test("requests the HTTP parser refuses (431 headers, lying Content-Length) answer in the error shape", async (t) => {
  const engine = { names: () => [], summary: () => ({}) } as unknown as Engine;
  const { app } = buildServer({ engine, token: "secret", log: () => undefined });
  await app.listen({ port: 0, host: "127.0.0.1" });
  t.after(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  const head = "POST /indexes/a/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\nContent-Type: application/json\r\n";
  const cases: [string, number, string, RegExp][] = [
    [`GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"x".repeat(100_000)}\r\n\r\n`, 431, "HEADERS_TOO_LARGE", /headers are larger/],
    [`${head}Content-Length: 100\r\n\r\n{"query":"x"}`, 400, "INPUT_INVALID", /ended before its body did/],
    [`${head}Content-Length: abc\r\n\r\n{"query":"x"}`, 400, "INPUT_INVALID", /Content-Length header is malformed or given more than once/],
    [`${head}Content-Length: 13\r\nContent-Length: 14\r\n\r\n{"query":"x"}`, 400, "INPUT_INVALID", /Content-Length header is malformed or given more than once/],
  ];
  for (const [bytes, status, code, why] of cases) {
    const answer = await rawRequest(port, bytes);
    const [statusLine = "", ...rest] = answer.split("\r\n");
    assert.match(statusLine, new RegExp(`^HTTP/1.1 ${status} `), answer);
    const body = JSON.parse(rest.slice(rest.indexOf("") + 1).join("\r\n")) as { error: { code: string; message: string } };
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.deepEqual(Object.keys(body.error), ["code", "message"]);
    assert.equal(body.error.code, code);
    assert.match(body.error.message, why);
    assert.match(answer, /content-type: application\/json/i);
  }
});
