/**
 * Admission control for work that goes to the worker pool: at most `maxInflight` requests are
 * admitted at once (running or waiting for a worker); the next one is refused with QUEUE_FULL
 * (HTTP 503 + Retry-After) instead of queueing without bound. Each admitted request gets
 * `timeoutMs`; past it the caller gets TIMEOUT (504) while the task, which cannot be interrupted
 * inside a worker, still counts against the limit until it really ends, so overload stays visible.
 */
import { ColtsError } from "../errors.js";

export interface GateOptions {
  /** Requests admitted at once. Default 128; range >= 1. Higher absorbs bursts, raises tail latency. */
  maxInflight?: number;
  /** Per-request time limit in ms. Default 30000; range >= 1. */
  timeoutMs?: number;
}

export class WorkGate {
  private inflightCount = 0;
  private closing = false;
  private idleWaiters: (() => void)[] = [];
  readonly maxInflight: number;
  readonly timeoutMs: number;
  /** Requests refused because the queue was full. */
  rejected = 0;
  /** Requests that timed out. */
  timedOut = 0;

  constructor(opts: GateOptions = {}) {
    this.maxInflight = opts.maxInflight ?? 128;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  get inflight(): number {
    return this.inflightCount;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new ColtsError("SHUTTING_DOWN", "the server is shutting down"));
    if (this.inflightCount >= this.maxInflight) {
      this.rejected++;
      return Promise.reject(new ColtsError("QUEUE_FULL", `${this.inflightCount} requests in progress (limit ${this.maxInflight}); retry later`));
    }
    this.inflightCount++;
    const task = Promise.resolve().then(work);
    void task
      .catch(() => undefined)
      .finally(() => {
        this.inflightCount--;
        if (this.inflightCount === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.timedOut++;
        reject(new ColtsError("TIMEOUT", `request took longer than ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    return Promise.race([task, timeout]).finally(() => clearTimeout(timer));
  }

  /** Refuses new work and resolves once every admitted task has ended (SIGTERM drain). */
  drain(): Promise<void> {
    this.closing = true;
    if (this.inflightCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
