/**
 * The contract between a WorkerPool and its workers: the typed task map a worker kind declares once
 * (shared by the pool on the caller's thread and the handlers in the worker) and the messages that
 * carry it across the thread boundary (structured-clone safe).
 */

/**
 * One task of a worker kind: what the caller sends, what the handler returns and what the handler
 * reports while it runs.
 */
export interface TaskSpec {
  /** The payload `WorkerPool.run` sends and the handler receives (structured clone). */
  request: unknown;
  /** The handler's result as the caller receives it (structured clone, buffers possibly transferred). */
  response: unknown;
  /** What the handler sends with `ctx.progress`; leave it out for a task that reports no progress. */
  progress?: unknown;
}

/**
 * The tasks of one worker kind by method name, e.g.
 * `{ search: { request: SearchRequest; response: ExplainedHit[][] } }`. Written as
 * `M extends TaskMap<M>` so that interfaces and type aliases both qualify.
 */
export type TaskMap<M> = { [K in keyof M]: TaskSpec };

/** A task's progress type; `never` (no `ctx.progress` calls allowed) when the task declares none. */
export type ProgressOf<S> = S extends { progress: infer P } ? P : never;

/** What a handler returns: the value and the buffers to move (not copy) to the caller. */
export interface HandlerResult<R> {
  result: R;
  transfer?: ArrayBuffer[];
}

/** What a handler may do while it runs. */
export interface TaskContext<P> {
  /** Sends `data` (structured clone) to the caller's onProgress for this task, before its result. */
  progress(data: P): void;
}

/** One handler per task of `M`, built by a worker entry's init function. */
export type Handlers<M extends TaskMap<M>> = {
  [K in keyof M]: (payload: M[K]["request"], ctx: TaskContext<ProgressOf<M[K]>>) => Promise<HandlerResult<M[K]["response"]>>;
};

/** The only message the pool sends: run `method` with `payload`. */
export interface TaskMessage {
  type: "task";
  id: number;
  method: string;
  payload: unknown;
}

/** What a worker sends back: ready or init-error once, then progress and one result or error per task. */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "init-error"; error: unknown }
  | { type: "progress"; id: number; data: unknown }
  | { type: "result"; id: number; result: unknown }
  | { type: "error"; id: number; error: unknown };
