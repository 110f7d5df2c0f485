/**
 * Micro-batching of encode requests: texts arriving within `windowMs` of each other for the same
 * model and kind go to a worker as one task (one padded onnxruntime batch instead of many tiny ones),
 * and each caller gets its own slice back. A batch is sent early once it holds `maxTexts`.
 *
 * Adaptive part: when the window ends while every worker is busy (`ready()` false), the batch keeps
 * collecting instead of joining the pool's queue: a task could not start earlier anyway, and the
 * texts that arrive meanwhile ride along. `maxWaitMs` bounds that wait so a batch cannot starve
 * behind a steady stream of other tasks.
 */
export interface BatcherOptions {
  /** How long the first request of a batch waits for company, in ms. Default 2; range >= 0. Longer adds latency, fills batches. */
  windowMs?: number;
  /** Texts per batch; reaching it sends the batch at once. Default 64; range >= 1. */
  maxTexts?: number;
  /** Longest time a batch waits for a free worker after its window, in ms. Default 50. */
  maxWaitMs?: number;
  /** True when a worker could start a task now. Default: always. */
  ready?: () => boolean;
}

/** How often a batch held back for a busy pool looks again, in ms. */
const RECHECK_MS = 1;

interface Pending<T> {
  texts: string[];
  /** When the batch was opened (performance.now()). */
  opened: number;
  waiters: { start: number; count: number; resolve: (v: T[]) => void; reject: (e: unknown) => void }[];
  timer: NodeJS.Timeout | null;
}

export class Batcher<T> {
  private readonly pending = new Map<string, Pending<T>>();
  private readonly windowMs: number;
  private readonly maxTexts: number;
  private readonly maxWaitMs: number;
  private readonly ready: () => boolean;
  /** Batches sent and texts in them (for metrics: texts / batches is the mean batch size). */
  batches = 0;
  texts = 0;

  constructor(
    private readonly run: (key: string, texts: string[]) => Promise<T[]>,
    opts: BatcherOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 2;
    this.maxTexts = opts.maxTexts ?? 64;
    this.maxWaitMs = opts.maxWaitMs ?? 50;
    this.ready = opts.ready ?? (() => true);
  }

  /** Texts waiting for their batch to be sent. */
  get waiting(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.texts.length;
    return n;
  }

  submit(key: string, texts: readonly string[]): Promise<T[]> {
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise<T[]>((resolve, reject) => {
      let p = this.pending.get(key);
      if (p && p.texts.length + texts.length > this.maxTexts) {
        this.flush(key);
        p = undefined;
      }
      if (!p) {
        const opened: Pending<T> = { texts: [], opened: performance.now(), waiters: [], timer: null };
        this.pending.set(key, opened);
        opened.timer = setTimeout(() => this.windowEnded(key, opened), this.windowMs);
        p = opened;
      }
      p.waiters.push({ start: p.texts.length, count: texts.length, resolve, reject });
      p.texts.push(...texts);
      if (p.texts.length >= this.maxTexts) this.flush(key);
    });
  }

  /** Sends the batch, or holds it while no worker is free (up to maxWaitMs past the window). */
  private windowEnded(key: string, p: Pending<T>): void {
    if (this.pending.get(key) !== p) return;
    if (!this.ready() && performance.now() - p.opened < this.windowMs + this.maxWaitMs) {
      p.timer = setTimeout(() => this.windowEnded(key, p), RECHECK_MS);
      return;
    }
    this.flush(key);
  }

  private flush(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    if (p.timer) clearTimeout(p.timer);
    this.batches++;
    this.texts += p.texts.length;
    this.run(key, p.texts).then(
      (out) => p.waiters.forEach((w) => w.resolve(out.slice(w.start, w.start + w.count))),
      (e: unknown) => p.waiters.forEach((w) => w.reject(e)),
    );
  }
}
