/**
 * A pool of worker threads that all run the same entry module (the encoder's, the server's or the
 * trainer's). The caller's event loop only queues tasks and receives results; the CPU work happens in the
 * workers. One task per worker at a time; tasks wait in a FIFO queue.
 *
 * A worker that dies fails its current task with WORKER_FAILED and is replaced, so one poisoned
 * input does not take the pool down.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import { ColtsError, reviveError } from "../errors.js";
import type { ProgressOf, TaskMap, TaskMessage, WorkerMessage } from "./protocol.js";

/** The most encoder workers `defaultEncoderWorkers` picks (each holds its own copy of the model). */
export const MAX_DEFAULT_ENCODER_WORKERS = 4;

/**
 * Encoder workers when the caller names none: one per available core, at most
 * MAX_DEFAULT_ENCODER_WORKERS, each then given cores / workers onnxruntime threads. Measured on 2
 * cores (bench/RESULTS.md, encode throughput): 2 workers x 1 thread encode 1.1-1.2x the tokens/s of
 * 1 worker x 2 threads, as two single-threaded sessions never wait on each other's thread pool
 * while one session's two threads meet at every operator; the cap bounds the model copies in memory.
 */
export function defaultEncoderWorkers(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(cores, MAX_DEFAULT_ENCODER_WORKERS));
}

/**
 * The default onnxruntime threads of each of `workers` workers: the available cores shared evenly,
 * at least 1. `workers` 0 (work on the calling thread) counts as one.
 */
export function threadsPerWorker(workers: number): number {
  return Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, workers)));
}

/** How to start a pool whose workers' init receives a `D`. */
export interface PoolOptions<D> {
  /** Entry module of each worker (must call serveWorker with the same task map and data type). */
  entry: URL;
  /** Number of workers. Default 1; range 1..64. */
  size?: number;
  /** Passed to the entry's init function (structured clone). */
  workerData: D;
}

/** A queued or running task as the pool keeps it: its types were checked by `run`. */
interface Task {
  id: number;
  method: string;
  payload: unknown;
  transfer: ArrayBuffer[];
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress: ((data: unknown) => void) | undefined;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

/**
 * The pool of one worker kind, typed by its task map `M` (shared with the entry's serveWorker call):
 * `run` accepts only the methods of `M`, each with its request type, and resolves to its response.
 */
export class WorkerPool<M extends TaskMap<M>> {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(private readonly opts: PoolOptions<unknown>) {}

  /**
   * Starts every worker and waits until each has finished its init (or one has failed it). Name the
   * task map and data type explicitly, `WorkerPool.start<Tasks, Data>(...)`: neither can be inferred
   * from the entry URL.
   */
  static async start<M extends TaskMap<M>, D>(opts: PoolOptions<D>): Promise<WorkerPool<M>> {
    const pool = new WorkerPool<M>(opts);
    const size = opts.size ?? 1;
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new ColtsError("INPUT_INVALID", `pool size must be 1..64, got ${size}`);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.spawn()));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Workers running now (fewer than started while a dead one is being replaced). */
  get size(): number {
    return this.slots.length;
  }

  /** Tasks waiting for a worker (not counting running ones). */
  get queueDepth(): number {
    return this.queue.length;
  }

  /** Tasks running now. */
  get busy(): number {
    return this.slots.filter((s) => s.task).length;
  }

  /**
   * Runs `method` in a free worker. `onProgress` receives what the handler sends with
   * `ctx.progress(...)` while it runs, in order, all before the result.
   */
  run<K extends keyof M & string>(
    method: K,
    payload: M[K]["request"],
    transfer: ArrayBuffer[] = [],
    onProgress?: (data: ProgressOf<M[K]>) => void,
  ): Promise<M[K]["response"]> {
    if (this.closed) return Promise.reject(new ColtsError("CLOSED", "worker pool is closed"));
    return new Promise<M[K]["response"]>((resolve, reject) => {
      // The thread boundary erases types: the progress and result that come back for this task are
      // clones of what the worker's handler for `method` sent, typed by the same map `M`.
      const progress = onProgress as ((data: unknown) => void) | undefined;
      this.queue.push({ id: this.nextId++, method, payload, transfer, resolve, reject, onProgress: progress });
      this.dispatch();
    });
  }

  /** Rejects queued and running tasks with CLOSED and terminates every worker. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new ColtsError("CLOSED", "worker pool closed before the task ran"));
    const slots = this.slots.splice(0);
    for (const s of slots) {
      s.task?.reject(new ColtsError("CLOSED", "worker pool closed while the task ran"));
      s.task = null;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(this.opts.entry, { workerData: this.opts.workerData });
      const slot: Slot = { worker, task: null };
      let ready = false;
      worker.on("message", (m: WorkerMessage) => {
        if (m.type === "ready") {
          ready = true;
          this.slots.push(slot);
          resolve();
          this.dispatch();
        } else if (m.type === "init-error") {
          reject(reviveError(m.error));
          void worker.terminate();
        } else if (m.type === "progress") {
          if (slot.task?.id === m.id) slot.task.onProgress?.(m.data);
        } else {
          this.finish(slot, m);
        }
      });
      worker.on("error", (e) => {
        if (!ready) reject(new ColtsError("WORKER_FAILED", `worker failed to start: ${e.message}`, { cause: e }));
        else this.fail(slot, e);
      });
      worker.on("exit", (code) => {
        if (!ready) reject(new ColtsError("WORKER_FAILED", `worker exited during start (code ${code})`));
        else if (!this.closed) this.fail(slot, new Error(`worker exited with code ${code}`));
      });
    });
  }

  private finish(slot: Slot, m: Extract<WorkerMessage, { type: "result" } | { type: "error" }>): void {
    const task = slot.task;
    slot.task = null;
    if (task && task.id === m.id) {
      if (m.type === "result") task.resolve(m.result);
      else task.reject(reviveError(m.error));
    }
    this.dispatch();
  }

  /** A worker died: fail its task, replace it. */
  private fail(slot: Slot, e: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    slot.task?.reject(new ColtsError("WORKER_FAILED", `worker died: ${e.message}`, { cause: e }));
    slot.task = null;
    void slot.worker.terminate();
    if (!this.closed) {
      this.spawn().catch((err: unknown) => {
        for (const t of this.queue.splice(0)) t.reject(err instanceof Error ? err : new Error(String(err)));
      });
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.task) continue;
      const task = this.queue.shift();
      if (!task) return;
      slot.task = task;
      const msg: TaskMessage = { type: "task", id: task.id, method: task.method, payload: task.payload };
      slot.worker.postMessage(msg, task.transfer);
    }
  }
}
