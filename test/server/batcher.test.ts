/** Micro-batching (batcher.ts) and admission (gate.ts) on their own, with a fake worker. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Batcher } from "../../src/server/batcher.js";
import { WorkGate } from "../../src/server/gate.js";
import { isColtsError } from "../../src/errors.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fakeWorker(): { calls: string[][]; run: (key: string, texts: string[]) => Promise<string[]> } {
  const calls: string[][] = [];
  return { calls, run: (key, texts) => (calls.push(texts), Promise.resolve(texts.map((t) => `${key}:${t}`))) };
}

test("requests within the window share one task; each caller gets its own slice in order", async () => {
  const w = fakeWorker();
  const b = new Batcher(w.run, { windowMs: 20 });
  const [x, y, z] = await Promise.all([b.submit("q", ["a", "b"]), b.submit("q", ["c"]), b.submit("d", ["e"])]);
  assert.deepEqual(x, ["q:a", "q:b"]);
  assert.deepEqual(y, ["q:c"]);
  assert.deepEqual(z, ["d:e"]);
  assert.deepEqual(w.calls, [["a", "b", "c"], ["e"]]);
  assert.deepEqual({ batches: b.batches, texts: b.texts }, { batches: 2, texts: 4 });
});

test("a full batch goes at once; one that would overflow goes first", async () => {
  const w = fakeWorker();
  const b = new Batcher(w.run, { windowMs: 10_000, maxTexts: 3 });
  const first = b.submit("q", ["a", "b"]);
  const second = b.submit("q", ["c", "d"]); // 4 > 3: [a, b] is sent, [c, d] opens a new batch
  const third = b.submit("q", ["e"]); // [c, d, e] is full: sent without waiting for the window
  assert.deepEqual(await first, ["q:a", "q:b"]);
  assert.deepEqual(await second, ["q:c", "q:d"]);
  assert.deepEqual(await third, ["q:e"]);
  assert.deepEqual(w.calls, [["a", "b"], ["c", "d", "e"]]);
});

test("while no worker is free the batch keeps collecting, at most maxWaitMs", async () => {
  const w = fakeWorker();
  let free = false;
  const b = new Batcher(w.run, { windowMs: 1, maxWaitMs: 5_000, ready: () => free });
  const early = b.submit("q", ["a"]);
  await sleep(30);
  assert.equal(w.calls.length, 0, "held while busy");
  const late = b.submit("q", ["b"]);
  free = true;
  assert.deepEqual(await early, ["q:a"]);
  assert.deepEqual(await late, ["q:b"]);
  assert.deepEqual(w.calls, [["a", "b"]]);
  const bounded = new Batcher(w.run, { windowMs: 1, maxWaitMs: 20, ready: () => false });
  const t0 = performance.now();
  await bounded.submit("q", ["c"]);
  assert.ok(performance.now() - t0 < 2_000, "sent after maxWaitMs even though never ready");
});

test("a failed task fails every request in its batch", async () => {
  const b = new Batcher<string>(() => Promise.reject(new Error("boom")), { windowMs: 5 });
  const results = await Promise.allSettled([b.submit("q", ["a"]), b.submit("q", ["b"])]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
});

test("gate: refuses past maxInflight, times out, counts until the work ends, drains", async () => {
  const gate = new WorkGate({ maxInflight: 2, timeoutMs: 30 });
  let release!: () => void;
  const blocked = new Promise<void>((r) => (release = r));
  const a = gate.run(() => blocked.then(() => "a"));
  const b = gate.run(() => Promise.resolve("b"));
  await assert.rejects(gate.run(() => Promise.resolve("c")), (e) => isColtsError(e, "QUEUE_FULL"));
  assert.equal(await b, "b");
  await assert.rejects(a, (e) => isColtsError(e, "TIMEOUT"));
  assert.equal(gate.inflight, 1, "the timed-out work still counts");
  assert.deepEqual({ rejected: gate.rejected, timedOut: gate.timedOut }, { rejected: 1, timedOut: 1 });
  let drained = false;
  const d = gate.drain().then(() => (drained = true));
  await assert.rejects(gate.run(() => Promise.resolve("d")), (e) => isColtsError(e, "SHUTTING_DOWN"));
  await sleep(5);
  assert.equal(drained, false);
  release();
  await d;
  assert.equal(gate.inflight, 0);
});
