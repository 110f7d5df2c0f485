/**
 * The training worker's protocol, declared once for both sides: api.ts runs `train` through a
 * `WorkerPool<TrainerTasks>`; worker.ts answers it with `serveWorker<TrainerTasks, null>`.
 */
import type { StepRecord, TrainOptions, TrainResult } from "./loop.js";

/** TrainOptions without the callback, which cannot cross threads (it becomes progress messages). */
export type TrainTask = Omit<TrainOptions, "onRecord">;

/** The training worker's one task: its step records arrive as progress, the weights as its result. */
export interface TrainerTasks {
  train: { request: TrainTask; response: TrainResult; progress: StepRecord };
}
