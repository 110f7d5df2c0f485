/**
 * The one error table of colts. Every failure the library reports on purpose is a `ColtsError` with a
 * stable `code` from this table; messages may improve, codes do not change. `httpStatus` is what the
 * server answers for the code. The CLI prints the code and exits with 2 for USAGE, 1 for every other
 * code (cli/main.ts).
 */
export const ERROR_CODES = {
  /** A model id or folder could not be resolved to the files a ColBERT checkpoint needs. */
  MODEL_NOT_FOUND: { httpStatus: 404, summary: "model not found" },
  /** A file is needed from the hub but the hub may not be contacted (offline / local-files-only). */
  HUB_OFFLINE: { httpStatus: 503, summary: "hub access disabled and file not in cache" },
  /** The hub (or mirror) answered with an error or could not be reached. */
  HUB_REQUEST_FAILED: { httpStatus: 502, summary: "hub request failed" },
  /** The hub (or mirror) sent no answer within the connect timeout, or no data within the idle timeout. */
  HUB_TIMEOUT: { httpStatus: 504, summary: "hub request timed out" },
  /** A model folder has none of the known checkpoint layouts. */
  LAYOUT_UNKNOWN: { httpStatus: 422, summary: "unknown checkpoint layout" },
  /** A config file is present but malformed or contradicts another. */
  CONFIG_INVALID: { httpStatus: 422, summary: "invalid model configuration" },
  /** A tokenizer file is missing or cannot be used. */
  TOKENIZER_INVALID: { httpStatus: 422, summary: "invalid tokenizer" },
  /** A safetensors file is malformed or lacks an expected tensor. */
  SAFETENSORS_INVALID: { httpStatus: 422, summary: "invalid safetensors file" },
  /** An ONNX graph cannot be loaded or has unexpected inputs/outputs. */
  ONNX_INVALID: { httpStatus: 422, summary: "invalid ONNX model" },
  /** The ONNX runtime failed while running a graph. */
  INFERENCE_FAILED: { httpStatus: 500, summary: "inference failed" },
  /** A requested output dimension is not available for this model. */
  DIM_UNSUPPORTED: { httpStatus: 400, summary: "unsupported embedding dimension" },
  /** Caller input (texts, JSONL lines, options) is malformed. */
  INPUT_INVALID: { httpStatus: 400, summary: "invalid input" },
  /** A metadata filter (`--filter`, the API's filter) does not parse or cannot be run. */
  FILTER_INVALID: { httpStatus: 400, summary: "invalid filter" },
  /** Command-line usage error (unknown flag, missing argument). */
  USAGE: { httpStatus: 400, summary: "usage error" },
  /** A worker thread died or answered with an unexpected message. */
  WORKER_FAILED: { httpStatus: 500, summary: "worker failed" },
  /** An index file is missing, truncated, corrupted or inconsistent with the manifest. */
  INDEX_CORRUPT: { httpStatus: 500, summary: "index corrupted" },
  /** An index (or one of its files) has a format version this colts cannot read. */
  INDEX_VERSION: { httpStatus: 500, summary: "unsupported index format version" },
  /** Another process is writing the index. */
  INDEX_BUSY: { httpStatus: 409, summary: "index is being written" },
  /** No index at the given folder. */
  INDEX_NOT_FOUND: { httpStatus: 404, summary: "index not found" },
  /** A PostgreSQL index location cannot be reached: refused, timed out, authentication failed. */
  DATABASE_UNAVAILABLE: { httpStatus: 503, summary: "database unavailable" },
  /** A shard of a sharded PostgreSQL index is down or did not answer in time; `details.shards` names it (host:port/database). */
  SHARD_UNAVAILABLE: { httpStatus: 503, summary: "shard unavailable" },
  /** PostgreSQL refused a statement of colts' own (permissions, a full disk, a broken table). */
  DATABASE_ERROR: { httpStatus: 500, summary: "database error" },
  /** An operation was attempted on a closed resource (encoder, pool). */
  CLOSED: { httpStatus: 503, summary: "resource closed" },
  // Training data and merging (colts mine / teacher / merge).
  /** Checkpoints cannot be merged: tensor shapes, BERT configs, heads, tokenizers or settings differ. */
  MERGE_INCOMPATIBLE: { httpStatus: 422, summary: "checkpoints cannot be merged" },
  /** A teacher has no score for a document of a training example (e.g. absent from its run file). */
  TEACHER_SCORE_MISSING: { httpStatus: 422, summary: "teacher score missing" },
  // --- HTTP server (colts serve) ---
  /** A request lacks the bearer token the server was started with, or carries a wrong one. */
  UNAUTHORIZED: { httpStatus: 401, summary: "missing or invalid bearer token" },
  /** No route (or no index of that name) at the requested path. */
  NOT_FOUND: { httpStatus: 404, summary: "not found" },
  /** The route exists but not for this HTTP method. */
  METHOD_NOT_ALLOWED: { httpStatus: 405, summary: "method not allowed" },
  /** The request body is not JSON (or an unsupported content type). */
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, summary: "unsupported media type" },
  /** The request exceeds a server limit (body bytes, batch size, text length). */
  LIMIT_EXCEEDED: { httpStatus: 413, summary: "request exceeds a server limit" },
  /** The request's header lines exceed the HTTP parser's limit (Node's --max-http-header-size, 16 KiB by default). */
  HEADERS_TOO_LARGE: { httpStatus: 431, summary: "request headers too large" },
  /** The work queue is full; retry after the number of seconds in Retry-After. */
  QUEUE_FULL: { httpStatus: 503, summary: "server busy, queue full" },
  /** The request did not finish within the server's per-request timeout. */
  TIMEOUT: { httpStatus: 504, summary: "request timed out" },
  /** The server is shutting down and takes no new work. */
  SHUTTING_DOWN: { httpStatus: 503, summary: "server shutting down" },
  /** An unexpected failure (details are logged on the server, never sent). */
  INTERNAL: { httpStatus: 500, summary: "internal error" },
  // --- training (src/train) ---
  /** The training backend (tfjs on WebAssembly) could not start. */
  TRAIN_BACKEND_FAILED: { httpStatus: 500, summary: "training backend failed" },
  /** A training state folder (resume checkpoint) is missing, corrupted, or from a different run setup. */
  TRAIN_STATE_INVALID: { httpStatus: 422, summary: "invalid training state" },
  // --- multilingual / Japanese ---
  /** A Japanese (MeCab-based) tokenizer needs a compiled MeCab dictionary that was not found. */
  MECAB_DICTIONARY_MISSING: { httpStatus: 422, summary: "MeCab dictionary not found" },
} as const satisfies Record<string, { httpStatus: number; summary: string }>;

/** A stable error code: a key of `ERROR_CODES`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The error class of colts: `code` is stable, `cause` keeps the underlying error, `details` is JSON-safe. */
export class ColtsError extends Error {
  /** What went wrong, stable across versions: branch on it, not on the message. */
  readonly code: ErrorCode;
  /** Facts for programs (the offending id, file, limit...); JSON-safe, undefined when there are none. */
  readonly details: Record<string, unknown> | undefined;

  /** The message gets a `colts: ` prefix; `cause` is passed on to `Error` when given. */
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(`colts: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ColtsError";
    this.code = code;
    this.details = options.details;
  }

  /** The HTTP status the server answers this code with (`ERROR_CODES[code].httpStatus`). */
  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  /** A plain object that survives `structuredClone` (worker messages) and JSON (server answers). */
  toJSON(): { name: string; code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** True when `e` is a ColtsError, and has `code` when one is given. */
export function isColtsError(e: unknown, code?: ErrorCode): e is ColtsError {
  return e instanceof ColtsError && (code === undefined || e.code === code);
}

/** Rebuilds a ColtsError from its `toJSON()` form (used across worker boundaries). */
export function reviveError(value: unknown): Error {
  if (typeof value === "object" && value !== null && "code" in value && "message" in value) {
    const v = value as { code: string; message: string; details?: Record<string, unknown> };
    if (v.code in ERROR_CODES) {
      const msg = v.message.startsWith("colts: ") ? v.message.slice(7) : v.message;
      return new ColtsError(v.code as ErrorCode, msg, v.details ? { details: v.details } : {});
    }
  }
  if (value instanceof Error) return value;
  return new ColtsError("WORKER_FAILED", `worker error: ${String((value as { message?: unknown })?.message ?? value)}`);
}
