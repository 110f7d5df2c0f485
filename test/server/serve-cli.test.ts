/**
 * `colts serve` as a real process: loopback by default, token from the environment, and SIGTERM
 * during a write drains it (the write answers 200 and is on disk), then exits 0.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { runCli } from "../helpers/cli.js";
import { suiteDir } from "../helpers/paths.js";
import { servedFixture, spawnServe, type ServedFixture } from "../helpers/server.js";

const root = suiteDir("colts-serve-cli-");
let fx: ServedFixture;

before(async () => {
  fx = await servedFixture(root, 40);
});

test("usage errors: no index, bad port", async () => {
  const none = await runCli(["serve"], root);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /at least one index/);
  const port = await runCli(["serve", fx.index, "--port", "70000"], root);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--port/);
});

test("serves on loopback with a token; SIGTERM drains an in-flight write and exits 0", async (t) => {
  const { child, base, exited, stderr: log } = await spawnServe(t, [`docs=${fx.index}`, "--port", "0"], { COLTS_TOKEN: "tok-123" });
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, "binds to loopback by default");
  assert.match(log(), /auth on/);
  assert.equal((await fetch(`${base}/health`)).status, 200);
  assert.equal((await fetch(`${base}/indexes`)).status, 401);
  const auth = { authorization: "Bearer tok-123", "content-type": "application/json" };
  const list = (await (await fetch(`${base}/indexes`, { headers: auth })).json()) as { indexes: { name: string }[] };
  assert.deepEqual(list.indexes.map((i) => i.name), ["docs"]);

  const documents = Array.from({ length: 20 }, (_, i) => ({ id: `late-${i}`, text: `${fx.docs[i]!.text} added late` }));
  const write = fetch(`${base}/indexes/docs/documents`, { method: "POST", headers: auth, body: JSON.stringify({ documents }) });
  await new Promise((r) => setTimeout(r, 30));
  child.kill("SIGTERM");
  const res = await write;
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(await exited, 0, log());
  assert.match(log(), /draining[\s\S]*stopped/);
  const index = await PlaidIndex.open(fx.index);
  try {
    assert.equal(index.manifest.liveDocs, fx.docs.length + documents.length);
    assert.equal(index.ordinalsForIds(documents.map((d) => d.id)).size, documents.length);
  } finally {
    await index.close();
  }
});
