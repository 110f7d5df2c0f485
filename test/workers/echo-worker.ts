/** A worker entry for pool tests. */
import { ColtsError } from "../../src/errors.js";
import { serveWorker } from "../../src/workers/host.js";
import type { EchoData, EchoTasks } from "./echo-tasks.js";

serveWorker<EchoTasks, EchoData>(({ factor }) => {
  if (factor < 0) return Promise.reject(new ColtsError("CONFIG_INVALID", "negative factor"));
  return Promise.resolve({
    times: (x) => Promise.resolve({ result: x * factor }),
    count: (n, ctx) => {
      for (let i = 1; i <= n; i++) ctx.progress(i);
      return Promise.resolve({ result: "done" });
    },
    fill: (n) => {
      const a = new Float32Array(n).fill(3);
      return Promise.resolve({ result: a, transfer: [a.buffer] });
    },
    fail: () => Promise.reject(new ColtsError("INPUT_INVALID", "bad thing")),
    crash: () => process.exit(3),
    busy: (ms) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        /* spin */
      }
      return Promise.resolve({ result: null });
    },
  });
});
