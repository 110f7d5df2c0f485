/**
 * The worker side of WorkerPool: builds the handlers once from `workerData`, reports "ready", then
 * answers tasks one at a time. Errors travel as ColtsError JSON (see errors.ts `reviveError`).
 */
import { parentPort, workerData } from "node:worker_threads";
import { ColtsError } from "../errors.js";
import type { Handlers, TaskMessage, WorkerMessage } from "./protocol.js";

function serialise(e: unknown): unknown {
  if (e instanceof ColtsError) return e.toJSON();
  return { message: e instanceof Error ? e.message : String(e) };
}

/** Call from a worker entry module. */
export function serveWorker(init: (data: unknown) => Promise<Handlers>): void {
  const port = parentPort;
  if (!port) throw new ColtsError("WORKER_FAILED", "serveWorker must run inside a worker thread");
  const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  init(workerData)
    .then((handlers) => {
      port.on("message", (msg: TaskMessage) => {
        const handler = handlers[msg.method];
        if (!handler) {
          post({ type: "error", id: msg.id, error: serialise(new ColtsError("WORKER_FAILED", `unknown method ${msg.method}`)) });
          return;
        }
        const ctx = { progress: (data: unknown): void => post({ type: "progress", id: msg.id, data }) };
        handler(msg.payload, ctx).then(
          (r) => post({ type: "result", id: msg.id, result: r.result }, r.transfer ?? []),
          (e: unknown) => post({ type: "error", id: msg.id, error: serialise(e) }),
        );
      });
      post({ type: "ready" });
    })
    .catch((e: unknown) => post({ type: "init-error", error: serialise(e) }));
}
