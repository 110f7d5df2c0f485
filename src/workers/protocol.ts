/** Messages between a WorkerPool and its workers (structured-clone safe). */

export interface TaskMessage {
  type: "task";
  id: number;
  method: string;
  payload: unknown;
}

export type WorkerMessage =
  | { type: "ready" }
  | { type: "init-error"; error: unknown }
  | { type: "progress"; id: number; data: unknown }
  | { type: "result"; id: number; result: unknown }
  | { type: "error"; id: number; error: unknown };

/** What a handler returns: the value and the buffers to move (not copy) to the caller. */
export interface HandlerResult {
  result: unknown;
  transfer?: ArrayBuffer[];
}

/** What a handler may do while it runs. */
export interface TaskContext {
  /** Sends `data` (structured clone) to the caller's onProgress for this task, before its result. */
  progress(data: unknown): void;
}

export type Handlers = Record<string, (payload: unknown, ctx: TaskContext) => Promise<HandlerResult>>;
