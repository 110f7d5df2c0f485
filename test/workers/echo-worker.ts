/** A worker entry for pool tests. */
import { ColtsError } from "../../src/errors.js";
import { serveWorker } from "../../src/workers/host.js";

serveWorker((data) => {
  const { factor } = data as { factor: number };
  if (factor < 0) return Promise.reject(new ColtsError("CONFIG_INVALID", "negative factor"));
  return Promise.resolve({
    times: (x) => Promise.resolve({ result: (x as number) * factor }),
    count: (n, ctx) => {
      for (let i = 1; i <= (n as number); i++) ctx.progress(i);
      return Promise.resolve({ result: "done" });
    },
    fill: (n) => {
      const a = new Float32Array(n as number).fill(3);
      return Promise.resolve({ result: a, transfer: [a.buffer] });
    },
    fail: () => Promise.reject(new ColtsError("INPUT_INVALID", "bad thing")),
    crash: () => process.exit(3),
    busy: (ms) => {
      const end = Date.now() + (ms as number);
      while (Date.now() < end) {
        /* spin */
      }
      return Promise.resolve({ result: null });
    },
  });
});
