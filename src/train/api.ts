/**
 * The training entry points of the package, loading tfjs only when called (importing `colts` for
 * search must not pay for the training backend).
 */
import type { TrainableColbert } from "./model.js";
import type { TrainOptions, TrainResult } from "./loop.js";

/** Runs (or resumes) training; see TrainOptions in src/train/loop.ts. */
export async function trainColbert(opts: TrainOptions): Promise<TrainResult> {
  const { train } = await import("./loop.js");
  return train(opts);
}

/** Writes a trained model as a complete folder (safetensors, PyLate configs, ONNX). */
export async function exportTrainedModel(model: TrainableColbert, sourceModel: string, dir: string, matryoshkaDims?: number[]): Promise<string[]> {
  const { exportModel } = await import("./loop.js");
  return exportModel(model, sourceModel, dir, matryoshkaDims);
}
