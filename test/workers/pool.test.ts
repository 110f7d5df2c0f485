import { test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { threadsPerWorker, WorkerPool } from "../../src/workers/pool.js";
import type { Handlers } from "../../src/workers/protocol.js";
import type { EchoData, EchoTasks } from "./echo-tasks.js";

const entry = new URL("./echo-worker.js", import.meta.url);
const start = (factor: number): Promise<WorkerPool<EchoTasks>> => WorkerPool.start<EchoTasks, EchoData>({ entry, size: 1, workerData: { factor } });

test("tasks run in workers and come back in order of completion, transferring buffers", async (t) => {
  const pool = await WorkerPool.start<EchoTasks, EchoData>({ entry, size: 2, workerData: { factor: 3 } });
  t.after(() => pool.close());
  const results = await Promise.all([1, 2, 3, 4, 5].map((x) => pool.run("times", x)));
  assert.deepEqual(results, [3, 6, 9, 12, 15]);
  const buf = await pool.run("fill", 4);
  assert.ok(buf instanceof Float32Array);
  assert.deepEqual([...buf], [3, 3, 3, 3]);
});

test("progress sent by a handler reaches the caller's callback, in order, before the result", async (t) => {
  const pool = await start(1);
  t.after(() => pool.close());
  const seen: number[] = [];
  const result = await pool.run("count", 4, [], (d) => seen.push(d));
  assert.equal(result, "done");
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.equal(await pool.run("count", 2), "done", "progress without a callback is dropped");
});

test("a handler error comes back as the same ColtsError code", async (t) => {
  const pool = await start(1);
  t.after(() => pool.close());
  await assert.rejects(pool.run("fail", null), { code: "INPUT_INVALID", message: "colts: bad thing" });
  // @ts-expect-error: "nope" is no task of EchoTasks; at run time the worker refuses it.
  await assert.rejects(pool.run("nope", null), { code: "WORKER_FAILED" });
  // @ts-expect-error: an Object.prototype name is no task either.
  await assert.rejects(pool.run("toString", null), { code: "WORKER_FAILED" });
});

test("a worker that dies fails its task with WORKER_FAILED and is replaced", async (t) => {
  const pool = await start(2);
  t.after(() => pool.close());
  await assert.rejects(pool.run("crash", null), { code: "WORKER_FAILED" });
  assert.equal(await pool.run("times", 5), 10);
});

test("an init failure rejects start; a closed pool refuses tasks", async () => {
  await assert.rejects(start(-1), { code: "CONFIG_INVALID" });
  const pool = await start(1);
  await pool.close();
  await assert.rejects(pool.run("times", 1), { code: "CLOSED" });
});

test("closing the pool settles a running task and a queued one with CLOSED", async () => {
  const pool = await start(1);
  const running = pool.run("busy", 5000);
  const queued = pool.run("times", 1);
  const settled = Promise.all([
    assert.rejects(running, { code: "CLOSED", message: /while the task ran/ }),
    assert.rejects(queued, { code: "CLOSED", message: /before the task ran/ }),
  ]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await pool.close();
  await settled;
});

test("the event loop stays free while a worker computes", async (t) => {
  const pool = await start(1);
  t.after(() => pool.close());
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await pool.run("busy", 200);
  clearInterval(timer);
  assert.ok(ticks >= 10, `only ${ticks} timer ticks during 200 ms of worker CPU`);
});

test("threadsPerWorker shares the cores evenly, at least 1 each; 0 workers count as one", () => {
  const cores = os.availableParallelism();
  assert.equal(threadsPerWorker(1), cores);
  assert.equal(threadsPerWorker(0), cores);
  assert.equal(threadsPerWorker(2), Math.max(1, Math.floor(cores / 2)));
  assert.equal(threadsPerWorker(cores + 1), 1);
});

/**
 * Compile-time checks of the typed protocol, never called: `tsc` fails when one of the expected
 * errors disappears, i.e. when the task map stops constraining a side.
 */
async function _typeChecks(pool: WorkerPool<EchoTasks>): Promise<void> {
  // @ts-expect-error: times takes a number, not a string.
  await pool.run("times", "3");
  // @ts-expect-error: fill takes a number, not null.
  await pool.run("fill", null);
  // @ts-expect-error: times responds with a number.
  const _s: string = await pool.run("times", 3);
  // @ts-expect-error: count reports numbers as progress.
  await pool.run("count", 3, [], (d: string) => d.length);
  // @ts-expect-error: the echo worker starts with { factor: number }.
  await WorkerPool.start<EchoTasks, EchoData>({ entry, workerData: { factor: "3" } });
  const _handlers: Pick<Handlers<EchoTasks>, "times" | "count" | "busy"> = {
    // @ts-expect-error: a times handler must produce a number.
    times: (x) => Promise.resolve({ result: String(x) }),
    count: (n, ctx) => {
      // @ts-expect-error: count's progress is a number.
      ctx.progress("one");
      return Promise.resolve({ result: String(n) });
    },
    busy: (_ms, ctx) => {
      // @ts-expect-error: busy declares no progress.
      ctx.progress(1);
      return Promise.resolve({ result: null });
    },
  };
}
