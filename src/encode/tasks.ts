/**
 * The encoder workers' protocol, declared once for both sides: what each worker starts with and one
 * request and response type per task. colbert.ts runs the tasks through a
 * `WorkerPool<EncoderTasks>`; worker.ts answers them with `serveWorker<EncoderTasks, EncoderWorkerData>`.
 */
import type { LayoutOptions } from "../model/layout.js";
import type { RuntimeOptions } from "../runtime/session.js";
import type { EncodeOptions } from "./encoder.js";
import type { MultiVector } from "./multivector.js";

/** What every encoder worker starts with: the model folder, how to read it, how to run it. */
export interface EncoderWorkerData {
  /** Local model folder. */
  dir: string;
  layout: LayoutOptions;
  runtime: RuntimeOptions;
}

/** One chunk of texts to encode. */
export interface EncodeTask {
  texts: string[];
  options: EncodeOptions;
}

/** What the loaded model reports about its output. */
export interface EncoderInfo {
  /** Full output dimension. */
  dim: number;
  /** True when the projection head runs in TypeScript because the graph outputs hidden states. */
  headInTypeScript: boolean;
}

/** The encoder workers' tasks. */
export interface EncoderTasks {
  info: { request: null; response: EncoderInfo };
  encodeQueries: { request: EncodeTask; response: MultiVector[] };
  encodeDocuments: { request: EncodeTask; response: MultiVector[] };
}
