/**
 * Worker entry for training: runs `train` (loop.ts) on a worker thread, so the caller's event loop
 * stays free (progress output, signals) while tfjs computes. Step records travel back as progress;
 * the final weights as transferred buffers.
 */
import { serveWorker } from "../workers/host.js";
import { train, type TrainResult } from "./loop.js";
import type { TrainerTasks } from "./tasks.js";

/** Every buffer of the result's arrays, once each (they are fresh copies made by snapshot()). */
function transferables(r: TrainResult): ArrayBuffer[] {
  const { weights, dense, matryoshkaHeads } = r.weights;
  const arrays = [...[...weights.values()].map((t) => t.data), ...[...dense, ...matryoshkaHeads.values()].flatMap((l) => (l.bias ? [l.weight, l.bias] : [l.weight]))];
  return [...new Set(arrays.map((a) => a.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer))];
}

serveWorker<TrainerTasks, null>(() =>
  Promise.resolve({
    train: async (payload, ctx) => {
      const result = await train({ ...payload, onRecord: (rec) => ctx.progress(rec) });
      return { result, transfer: transferables(result) };
    },
  }),
);
