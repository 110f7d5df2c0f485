/** PostgreSQL locations: parsing, defaults, refusals, and that no message ever shows a password. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ColtsError } from "../../src/errors.js";
import { isPgUrl, parsePgUrl, redactUrl } from "../../src/pg/url.js";
import { tables } from "../../src/pg/schema.js";

test("a full URL parses into its parts, the password decoded and redacted", () => {
  const l = parsePgUrl("postgres://ann:s%2Fecr%40t@db.example:6543/search?prefix=news_&connect_timeout=3&statement_timeout=2500&sslmode=require", {});
  assert.deepEqual(
    { ...l },
    {
      host: "db.example",
      port: 6543,
      database: "search",
      user: "ann",
      password: "s/ecr@t",
      prefix: "news_",
      connectTimeoutMs: 3000,
      statementTimeoutMs: 2500,
      sslmode: "require",
      redacted: "postgres://ann:***@db.example:6543/search?prefix=news_&connect_timeout=3&statement_timeout=2500&sslmode=require",
    },
  );
});

test("defaults: localhost:5432, user from PGUSER, database = user, password from PGPASSWORD, prefix colts_", () => {
  const l = parsePgUrl("postgresql://", { PGUSER: "bob", PGPASSWORD: "pw1" });
  assert.equal(l.host, "localhost");
  assert.equal(l.port, 5432);
  assert.equal(l.user, "bob");
  assert.equal(l.database, "bob");
  assert.equal(l.password, "pw1");
  assert.equal(l.prefix, "colts_");
  assert.equal(l.connectTimeoutMs, 10_000);
  assert.equal(l.statementTimeoutMs, 0);
  assert.equal(l.sslmode, "disable");
  // The URL's password wins over PGPASSWORD; IPv6 loses its brackets; a socket folder is percent-encoded.
  assert.equal(parsePgUrl("postgres://u:mine@[::1]/d", { PGPASSWORD: "env" }).password, "mine");
  assert.equal(parsePgUrl("postgres://u@[::1]/d", {}).host, "::1");
  assert.equal(parsePgUrl("postgres://u@%2Frun%2Fpostgresql/d", {}).host, "/run/postgresql");
});

test("isPgUrl tells URLs from folders", () => {
  assert.ok(isPgUrl("postgres://x"));
  assert.ok(isPgUrl("POSTGRESQL://x"));
  assert.ok(!isPgUrl("./postgres://x"));
  assert.ok(!isPgUrl("/data/index"));
});

test("redactUrl hides passwords in the user part and in a password= parameter, even in malformed URLs", () => {
  assert.equal(redactUrl("postgres://u:p@h/d"), "postgres://u:***@h/d");
  assert.equal(redactUrl("postgres://u:pa/ss@word@h:1/d?prefix=a"), "postgres://u:***@h:1/d?prefix=a");
  assert.equal(redactUrl("postgres://u@h/d?password=x&prefix=a"), "postgres://u@h/d?password=***&prefix=a");
  assert.equal(redactUrl("postgres://h/d"), "postgres://h/d");
  assert.equal(redactUrl("not a url"), "not a url");
});

test("malformed locations are INPUT_INVALID and the message never holds the password", () => {
  const secret = "Sup3rSecret";
  const bad = [
    `postgres://u:${secret}@h/d?prefix=Bad-Prefix`,
    `postgres://u:${secret}@h/d?prefix=${"x".repeat(41)}`,
    `postgres://u:${secret}@h/d?prefix=a;drop`,
    `postgres://u:${secret}@h/d?bogus=1`,
    `postgres://u:${secret}@h/d?password=${secret}`,
    `postgres://u:${secret}@h/d?connect_timeout=0`,
    `postgres://u:${secret}@h/d?statement_timeout=-1`,
    `postgres://u:${secret}@h/d?sslmode=allow`,
    `postgres://u:${secret}@h/d/e`,
    `postgres://u:pa/${secret}@h/d`,
    `postgres://u:%E0%A4%A${secret}@h/d`,
    `mysql://u:${secret}@h/d`,
  ];
  for (const url of bad) {
    assert.throws(
      () => parsePgUrl(url, {}),
      (e: unknown) => e instanceof ColtsError && e.code === "INPUT_INVALID" && !e.message.includes(secret) && !JSON.stringify(e.details).includes(secret),
      url,
    );
  }
});

test("table names: the prefix is checked again and quoted", () => {
  assert.equal(tables("idx_").documents, '"idx_documents"');
  assert.throws(() => tables('x"; drop table y; --'), /prefix/);
  assert.throws(() => tables("Upper"), /prefix/);
});
