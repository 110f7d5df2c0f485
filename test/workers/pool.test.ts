import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkerPool } from "../../src/workers/pool.js";

const entry = new URL("./echo-worker.js", import.meta.url);

test("tasks run in workers and come back in order of completion, transferring buffers", async (t) => {
  const pool = await WorkerPool.start({ entry, size: 2, workerData: { factor: 3 } });
  t.after(() => pool.close());
  const results = await Promise.all([1, 2, 3, 4, 5].map((x) => pool.run<number>("times", x)));
  assert.deepEqual(results, [3, 6, 9, 12, 15]);
  const buf = await pool.run<Float32Array>("fill", 4);
  assert.deepEqual([...buf], [3, 3, 3, 3]);
});

test("progress sent by a handler reaches the caller's callback, in order, before the result", async (t) => {
  const pool = await WorkerPool.start({ entry, size: 1, workerData: { factor: 1 } });
  t.after(() => pool.close());
  const seen: unknown[] = [];
  const result = await pool.run<string>("count", 4, [], (d) => seen.push(d));
  assert.equal(result, "done");
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.equal(await pool.run<string>("count", 2), "done", "progress without a callback is dropped");
});

test("a handler error comes back as the same ColtsError code", async (t) => {
  const pool = await WorkerPool.start({ entry, size: 1, workerData: { factor: 1 } });
  t.after(() => pool.close());
  await assert.rejects(pool.run("fail", null), { code: "INPUT_INVALID", message: "colts: bad thing" });
  await assert.rejects(pool.run("nope", null), { code: "WORKER_FAILED" });
});

test("a worker that dies fails its task with WORKER_FAILED and is replaced", async (t) => {
  const pool = await WorkerPool.start({ entry, size: 1, workerData: { factor: 2 } });
  t.after(() => pool.close());
  await assert.rejects(pool.run("crash", null), { code: "WORKER_FAILED" });
  assert.equal(await pool.run<number>("times", 5), 10);
});

test("an init failure rejects start; a closed pool refuses tasks", async () => {
  await assert.rejects(WorkerPool.start({ entry, size: 1, workerData: { factor: -1 } }), { code: "CONFIG_INVALID" });
  const pool = await WorkerPool.start({ entry, size: 1, workerData: { factor: 1 } });
  await pool.close();
  await assert.rejects(pool.run("times", 1), { code: "CLOSED" });
});

test("the event loop stays free while a worker computes", async (t) => {
  const pool = await WorkerPool.start({ entry, size: 1, workerData: { factor: 1 } });
  t.after(() => pool.close());
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await pool.run("busy", 200);
  clearInterval(timer);
  assert.ok(ticks >= 10, `only ${ticks} timer ticks during 200 ms of worker CPU`);
});
