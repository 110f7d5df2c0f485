/**
 * Micro-batching of encode requests: texts arriving within `windowMs` of each other for the same
 * model and kind go to a worker as one task (one padded onnxruntime batch instead of many tiny ones),
 * and each caller gets its own slice back. A batch is sent early once it holds `maxTexts`.
 */
export interface BatcherOptions {
  /** How long the first request of a batch waits for company, in ms. Default 2; range >= 0. Longer adds latency, fills batches. */
  windowMs?: number;
  /** Texts per batch; reaching it sends the batch at once. Default 64; range >= 1. */
  maxTexts?: number;
}

interface Pending<T> {
  texts: string[];
  waiters: { start: number; count: number; resolve: (v: T[]) => void; reject: (e: unknown) => void }[];
  timer: NodeJS.Timeout | null;
}

export class Batcher<T> {
  private readonly pending = new Map<string, Pending<T>>();
  private readonly windowMs: number;
  private readonly maxTexts: number;
  /** Batches sent and texts in them (for metrics: texts / batches is the mean batch size). */
  batches = 0;
  texts = 0;

  constructor(
    private readonly run: (key: string, texts: string[]) => Promise<T[]>,
    opts: BatcherOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 2;
    this.maxTexts = opts.maxTexts ?? 64;
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
        p = { texts: [], waiters: [], timer: null };
        this.pending.set(key, p);
        p.timer = setTimeout(() => this.flush(key), this.windowMs);
      }
      p.waiters.push({ start: p.texts.length, count: texts.length, resolve, reject });
      p.texts.push(...texts);
      if (p.texts.length >= this.maxTexts) this.flush(key);
    });
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
