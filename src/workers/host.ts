/**
 * The worker side of WorkerPool: builds the handlers once from `workerData`, reports "ready", then
 * answers tasks one at a time. Errors travel as ColtsError JSON (see errors.ts `reviveError`).
 */
import { parentPort, workerData } from "node:worker_threads";
import { ColtsError } from "../errors.js";
import type { HandlerResult, Handlers, TaskContext, TaskMap, TaskMessage, WorkerMessage } from "./protocol.js";

/** A handler as the message loop sees it: method names and payloads arrive untyped. */
type UntypedHandler = (payload: unknown, ctx: TaskContext<unknown>) => Promise<HandlerResult<unknown>>;

function serialise(e: unknown): unknown {
  if (e instanceof ColtsError) return e.toJSON();
  return { message: e instanceof Error ? e.message : String(e) };
}

/**
 * Call from a worker entry module, typed by the worker kind's task map `M` and the `workerData` type
 * `D` its pool is started with: `init` receives that data once and builds one handler per task.
 * An init failure fails `WorkerPool.start`; an unknown method fails its task with WORKER_FAILED.
 */
export function serveWorker<M extends TaskMap<M>, D>(init: (data: D) => Promise<Handlers<M>>): void {
  const port = parentPort;
  if (!port) throw new ColtsError("WORKER_FAILED", "serveWorker must run inside a worker thread");
  const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  // The pool was started with a `D` (PoolOptions<D>); the thread boundary hands over a clone of it.
  init(workerData as D)
    .then((handlers) => {
      // The thread boundary erases types: each payload was sent by a pool typed by the same map `M`
      // for this method, so the lookup by name is the one place the types are taken on trust.
      const table = handlers as unknown as Partial<Record<string, UntypedHandler>>;
      port.on("message", (msg: TaskMessage) => {
        const handler = Object.hasOwn(table, msg.method) ? table[msg.method] : undefined;
        if (!handler) {
          post({ type: "error", id: msg.id, error: serialise(new ColtsError("WORKER_FAILED", `unknown method ${msg.method}`)) });
          return;
        }
        const ctx: TaskContext<unknown> = { progress: (progress: unknown): void => post({ type: "progress", id: msg.id, data: progress }) };
        handler(msg.payload, ctx).then(
          (r) => post({ type: "result", id: msg.id, result: r.result }, r.transfer ?? []),
          (e: unknown) => post({ type: "error", id: msg.id, error: serialise(e) }),
        );
      });
      post({ type: "ready" });
    })
    .catch((e: unknown) => post({ type: "init-error", error: serialise(e) }));
}
