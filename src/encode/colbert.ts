/**
 * `ColBERT`: the public encoder. Resolves a model (folder or hub id), then encodes in a pool of
 * worker threads so that the caller's event loop never runs a model (onnxruntime-node's `run` is
 * synchronous). `workers: 0` runs on the calling thread instead (scripts, tests, debugging).
 */
import { ColtsError } from "../errors.js";
import type { HubOptions } from "../model/hub.js";
import { readModelFolder, type LayoutOptions, type ModelSpec } from "../model/layout.js";
import { resolveModelDir } from "../model/resolve.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { defaultEncoderWorkers, threadsPerWorker, WorkerPool } from "../workers/pool.js";
import { InProcessEncoder, type EncodeOptions } from "./encoder.js";
import type { MultiVector } from "./multivector.js";
import { tokenizerForSpec, type ColbertTokenizer } from "./tokenize.js";
import type { EncodeTask, EncoderTasks, EncoderWorkerData } from "./tasks.js";

/** Options of `ColBERT.load`: where to find the model (hub), how to read it (layout) and how to run it. */
export interface LoadOptions extends HubOptions, LayoutOptions {
  /**
   * Encoder worker threads. Default: one per core, at most 4 (`defaultEncoderWorkers`: measured
   * faster than one worker on all cores); `Searcher.open` defaults to 1, for the latency of a single
   * query. 0 = encode on the calling thread (blocks it while a batch runs). Each worker holds its
   * own copy of the model: more workers, more memory.
   */
  workers?: number;
  /** onnxruntime threads per worker. Default: available cores / workers (at least 1). */
  threads?: number;
  /** See RuntimeOptions.executionProvider. Default "cpu". */
  executionProvider?: RuntimeOptions["executionProvider"];
}

/** Default worker tasks per worker of one encode call (BatchEncodeOptions.chunkSize). */
const TASKS_PER_WORKER = 8;

/** The default texts per worker task: about TASKS_PER_WORKER tasks per worker, at most 4 batches each (BatchEncodeOptions.chunkSize). */
export function defaultChunkSize(texts: number, batchSize: number, workers: number): number {
  return Math.max(1, Math.min(4 * batchSize, Math.ceil(texts / (TASKS_PER_WORKER * Math.max(1, workers)))));
}

/** Options of `encodeQueries` / `encodeDocuments`: batching per model call, chunking over workers, progress. */
export interface BatchEncodeOptions extends EncodeOptions {
  /**
   * Texts per worker task. Default: about 8 tasks per worker (ceil(texts / (8 x workers))), at most
   * 4 x batchSize. Tasks go out longest first to whichever worker is free, so several per worker
   * keep both busy to the end: with 2 workers, 256 SciFact abstracts encoded in 21.6 s in tasks of
   * 16 against 25.2 s in the 2 tasks of 128 the former default gave (bench/RESULTS.md, "Encoding:
   * tasks per worker"). Smaller: better balance and progress more often, more messages; larger ones
   * pad less across tasks (a model call takes at most batchSize texts of one task).
   */
  chunkSize?: number;
  /** Called after each chunk with texts done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** What `ColBERT.load` found in the model folder. */
export interface ModelInfo {
  /** Local folder the model was read from. */
  dir: string;
  /** The layout whose conventions are used (the highest found, or the one asked for). */
  layout: ModelSpec["layout"];
  /** Every layout detected in the folder, lowest precedence first. */
  layoutsFound: ModelSpec["layoutsFound"];
  /** The encoding conventions in effect (lengths, markers, expansion, skiplist), overrides applied. */
  settings: ModelSpec["settings"];
  /** Full output dimension. */
  dim: number;
  /** True when the projection head runs in TypeScript because the graph outputs hidden states. */
  headInTypeScript: boolean;
  /** The ONNX graph run, or null when the folder has none and the graph was built from its safetensors weights. */
  onnxPath: string | null;
}

type Backend = { kind: "pool"; pool: WorkerPool<EncoderTasks> } | { kind: "local"; encoder: InProcessEncoder };

/**
 * A loaded ColBERT model: encodes queries and documents into multi-vectors. Create with `load`, and
 * `close` it to stop its workers.
 */
export class ColBERT {
  private closed = false;

  private constructor(
    /** What was loaded, and from where. */
    readonly info: ModelInfo,
    /** Main-thread tokenizer, for token strings and counting. */
    readonly tokenizer: ColbertTokenizer,
    private readonly backend: Backend,
  ) {}

  /** Loads a model from a local folder or a hub id (`org/name`, `org/name@revision`). */
  static async load(idOrPath: string, opts: LoadOptions = {}): Promise<ColBERT> {
    const dir = await resolveModelDir(idOrPath, opts);
    const layout: LayoutOptions = {
      ...(opts.layout ? { layout: opts.layout } : {}),
      ...(opts.onnxFile ? { onnxFile: opts.onnxFile } : {}),
      ...(opts.quantized ? { quantized: opts.quantized } : {}),
      ...(opts.settings ? { settings: opts.settings } : {}),
      ...(opts.mecabDicDir ? { mecabDicDir: opts.mecabDicDir } : {}),
    };
    const spec = readModelFolder(dir, layout);
    const tokenizer = tokenizerForSpec(spec);
    const workers = opts.workers ?? defaultEncoderWorkers();
    const threads = opts.threads ?? threadsPerWorker(workers);
    const runtime: RuntimeOptions = { intraOpThreads: threads, executionProvider: opts.executionProvider ?? "cpu" };
    const base = { dir, layout: spec.layout, layoutsFound: spec.layoutsFound, settings: spec.settings, onnxPath: spec.onnxPath };
    if (workers === 0) {
      const encoder = await InProcessEncoder.create(spec, runtime);
      return new ColBERT({ ...base, dim: encoder.dim, headInTypeScript: encoder.headInTypeScript }, tokenizer, { kind: "local", encoder });
    }
    const workerData: EncoderWorkerData = { dir, layout, runtime };
    const pool = await WorkerPool.start<EncoderTasks, EncoderWorkerData>({ entry: new URL("./worker.js", import.meta.url), size: workers, workerData });
    const head = await pool.run("info", null);
    return new ColBERT({ ...base, ...head }, tokenizer, { kind: "pool", pool });
  }

  /** Full output dimension of the vectors. */
  get dim(): number {
    return this.info.dim;
  }

  /** Encodes queries: marker, [MASK] expansion to queryLength, every vector kept. */
  encodeQueries(texts: readonly string[], opts: BatchEncodeOptions = {}): Promise<MultiVector[]> {
    return this.encode("encodeQueries", texts, opts);
  }

  /** Encodes documents: marker, truncation to documentLength, punctuation and padding dropped. */
  encodeDocuments(texts: readonly string[], opts: BatchEncodeOptions = {}): Promise<MultiVector[]> {
    return this.encode("encodeDocuments", texts, opts);
  }

  /** Token strings of a multi-vector's rows (for explanations). */
  tokenStrings(mv: Pick<MultiVector, "tokenIds">): string[] {
    return Array.from(mv.tokenIds, (id) => this.tokenizer.idToToken(id));
  }

  /** Stops the workers (or releases the in-process session); later encodes throw CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.backend.kind === "pool") await this.backend.pool.close();
    else await this.backend.encoder.close();
  }

  private async encode(method: "encodeQueries" | "encodeDocuments", texts: readonly string[], opts: BatchEncodeOptions): Promise<MultiVector[]> {
    if (this.closed) throw new ColtsError("CLOSED", "this ColBERT model has been closed");
    checkTexts(texts);
    const { onProgress, chunkSize, ...options } = opts;
    if (this.backend.kind === "local") {
      const out = await this.backend.encoder[method](texts, options);
      onProgress?.(texts.length, texts.length);
      return out;
    }
    const pool = this.backend.pool;
    // Chunks of similar length pad least: order by character length, chunk, restore order at the end.
    const order = texts.map((_, i) => i).sort((a, b) => (texts[b]?.length ?? 0) - (texts[a]?.length ?? 0) || a - b);
    const size = Math.max(1, chunkSize ?? defaultChunkSize(texts.length, options.batchSize ?? 32, pool.size));
    const out = new Array<MultiVector>(texts.length);
    let done = 0;
    const tasks: Promise<void>[] = [];
    for (let start = 0; start < order.length; start += size) {
      const idx = order.slice(start, start + size);
      const task: EncodeTask = { texts: idx.map((i) => texts[i] as string), options };
      tasks.push(
        pool.run(method, task).then((vs) => {
          vs.forEach((v, j) => (out[idx[j] as number] = v));
          done += idx.length;
          onProgress?.(done, texts.length);
        }),
      );
    }
    await Promise.all(tasks);
    return out;
  }
}

function checkTexts(texts: readonly unknown[]): void {
  if (!Array.isArray(texts)) throw new ColtsError("INPUT_INVALID", "texts must be an array of strings");
  const bad = texts.findIndex((t) => typeof t !== "string");
  if (bad >= 0) throw new ColtsError("INPUT_INVALID", `texts[${bad}] is ${typeof texts[bad]}, expected a string`, { details: { index: bad } });
}
