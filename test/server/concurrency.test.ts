/**
 * Writes while serving: a stream of adds and deletes (each of a whole batch of documents) runs
 * while searches look for those batches. A batch is added and deleted atomically, so every search
 * must see all of a batch or none of it; no request may fail.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { buildServer } from "../../src/server/build.js";
import { Engine } from "../../src/server/engine.js";
import { suiteDir } from "../helpers/paths.js";
import { servedFixture, type ServedFixture } from "../helpers/server.js";

const BATCH = 5;
const ROUNDS = 8;
const root = suiteDir("colts-server-conc-");
let fx: ServedFixture;
let engine: Engine;
let app: FastifyInstance;

before(async () => {
  fx = await servedFixture(root, 80);
  engine = await Engine.start({ indexes: [{ name: "cacm", dir: fx.index }], workers: 2 });
  app = buildServer({ engine, log: () => undefined }).app;
});
after(async () => {
  await app.close();
  await engine.close();
});

const batchIds = (r: number): string[] => Array.from({ length: BATCH }, (_, i) => `r${r}-d${i}`);

test("searches during a stream of adds and deletes see whole batches or nothing, and never fail", async () => {
  let writing = true;
  const failures: string[] = [];
  const seen = { none: 0, all: 0 };
  const writer = (async () => {
    try {
      for (let r = 0; r < ROUNDS; r++) {
        const documents = batchIds(r).map((id, i) => ({ id, text: `${fx.docs[(r * BATCH + i) % fx.docs.length]!.text} round ${r}`, metadata: { round: r } }));
        const add = await app.inject({ method: "POST", url: "/indexes/cacm/documents", payload: { documents } });
        if (add.statusCode !== 200) failures.push(`add ${r}: ${add.statusCode} ${add.body}`);
        if (r >= 1) {
          const del = await app.inject({ method: "DELETE", url: "/indexes/cacm/documents", payload: { ids: batchIds(r - 1) } });
          if (del.statusCode !== 200) failures.push(`delete ${r - 1}: ${del.statusCode} ${del.body}`);
        }
      }
    } finally {
      writing = false;
    }
  })();
  const searcher = async (seed: number): Promise<void> => {
    let i = 0;
    while (writing) {
      const r = (seed + i++) % ROUNDS;
      const retriever = i % 2 === 0 ? "exact" : "plaid";
      const res = await app.inject({
        method: "POST",
        url: "/indexes/cacm/search",
        payload: { query: fx.docs[i % fx.docs.length]!.text.slice(0, 80), k: 20, retriever, ids: batchIds(r) },
      });
      if (res.statusCode !== 200) {
        failures.push(`search: ${res.statusCode} ${res.body}`);
        continue;
      }
      const hits = res.json<{ results: { id: string; metadata: { round?: number } | null }[][] }>().results[0]!;
      const ids = new Set(hits.map((h) => h.id));
      // PLAID may prune candidates, so only the exhaustive retriever must return the whole batch.
      if (retriever === "exact" && hits.length !== 0 && hits.length !== BATCH) failures.push(`round ${r}: saw ${hits.length} of ${BATCH} documents`);
      for (const h of hits) if (!batchIds(r).includes(h.id) || h.metadata?.round !== r) failures.push(`round ${r}: unexpected hit ${JSON.stringify(h)}`);
      if (ids.size !== hits.length) failures.push(`round ${r}: duplicate hits`);
      if (retriever === "exact") seen[hits.length === 0 ? "none" : "all"]++;
    }
  };
  await Promise.all([writer, searcher(0), searcher(3), searcher(5)]);
  assert.deepEqual(failures, []);
  assert.ok(seen.all > 0, `some searches saw a live batch (${JSON.stringify(seen)})`);
  console.log(`# exact searches during writes: ${JSON.stringify(seen)}`);
  // The index on disk is consistent: the last batch is live, every earlier one deleted.
  const index = await PlaidIndex.open(fx.index);
  try {
    assert.equal(index.manifest.liveDocs, fx.docs.length + BATCH);
    assert.equal(index.ordinalsForIds(batchIds(ROUNDS - 1)).size, BATCH);
    assert.equal(index.ordinalsForIds(batchIds(0)).size, 0);
  } finally {
    await index.close();
  }
  // Every worker (concurrent requests reach both) now answers from the newest generation.
  const last = await Promise.all(
    Array.from({ length: 6 }, () => app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "round", k: 20, retriever: "exact", ids: [...batchIds(ROUNDS - 1), ...batchIds(0)] } })),
  );
  for (const res of last) assert.deepEqual(res.json<{ results: { id: string }[][] }>().results[0]!.map((h) => h.id).sort(), batchIds(ROUNDS - 1));
  const info = (await app.inject({ method: "GET", url: "/indexes/cacm" })).json<{ liveDocuments: number }>();
  assert.equal(info.liveDocuments, fx.docs.length + BATCH);
});
