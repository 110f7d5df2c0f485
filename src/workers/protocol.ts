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
  | { type: "result"; id: number; result: unknown }
  | { type: "error"; id: number; error: unknown };

/** What a handler returns: the value and the buffers to move (not copy) to the caller. */
export interface HandlerResult {
  result: unknown;
  transfer?: ArrayBuffer[];
}

export type Handlers = Record<string, (payload: unknown) => Promise<HandlerResult>>;
