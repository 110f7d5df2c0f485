/**
 * The training entry points of the package, loading the trainer only when called (importing `colts`
 * for search must not pay for it).
 */
import type { TrainOptions, TrainResult } from "./loop.js";
import type { WeightsSnapshot } from "./ort/trainer.js";
import type { TrainerTasks } from "./tasks.js";

/** Runs (or resumes) training; see TrainOptions in src/train/loop.ts. */
export async function trainColbert(opts: TrainOptions): Promise<TrainResult> {
  const { train } = await import("./loop.js");
  return train(opts);
}

/**
 * `trainColbert` on a worker thread of the project's WorkerPool: the same computation and result
 * (the loop runs in the worker, onnxruntime on every core), while the caller's event loop stays free for progress output and
 * signals. `onRecord` is called on the caller's thread with each step record. Stopping the caller
 * stops the worker; state saved so far stays resumable.
 */
export async function trainColbertInWorker(opts: TrainOptions): Promise<TrainResult> {
  const { WorkerPool } = await import("../workers/pool.js");
  const { onRecord, ...task } = opts;
  const pool = await WorkerPool.start<TrainerTasks, null>({ entry: new URL("./worker.js", import.meta.url), size: 1, workerData: null });
  try {
    return await pool.run("train", task, [], onRecord);
  } finally {
    await pool.close();
  }
}

/** Writes a trained model as a complete folder (safetensors, PyLate configs, ONNX). */
export async function exportTrainedModel(weights: WeightsSnapshot, sourceModel: string, dir: string, matryoshkaDims?: number[]): Promise<string[]> {
  const { exportModel } = await import("./loop.js");
  return exportModel(weights, sourceModel, dir, matryoshkaDims);
}
