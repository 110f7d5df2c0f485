/**
 * Every failure becomes `{ "error": { "code", "message" } }` with the code's HTTP status. Nothing
 * internal leaves the server: no stack traces, no details objects, file paths in messages replaced
 * by "<path>", and 5xx messages (other than overload answers) replaced by the code's summary.
 */
import { ColtsError, ERROR_CODES, type ErrorCode } from "../errors.js";

export interface ErrorAnswer {
  status: number;
  code: ErrorCode;
  message: string;
  headers: Record<string, string>;
}

/** Codes whose messages are safe and useful to the caller even though the status is 5xx. */
const TELLING_5XX = new Set<ErrorCode>(["QUEUE_FULL", "TIMEOUT", "SHUTTING_DOWN", "CLOSED"]);

/** Absolute-looking paths (two or more segments) and Windows drive paths. */
const PATHS = /(?:[A-Za-z]:)?(?:[\\/][^\s\\/'"`:,;()[\]]+){2,}[\\/]?/g;

export function scrubPaths(message: string): string {
  return message.replace(PATHS, "<path>");
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  validation?: { keyword: string }[];
  message?: string;
}

export function answerFor(e: unknown, log: (line: string) => void): ErrorAnswer {
  if (e instanceof ColtsError) return fromColts(e, log);
  const f = (typeof e === "object" && e !== null ? e : {}) as FastifyLikeError;
  if (Array.isArray(f.validation)) {
    const limit = f.validation.some((v) => v.keyword === "maxItems" || v.keyword === "maxLength");
    return make(limit ? "LIMIT_EXCEEDED" : "INPUT_INVALID", scrubPaths(f.message ?? "invalid request"));
  }
  switch (f.statusCode ?? 500) {
    case 413:
      return make("LIMIT_EXCEEDED", "request body is larger than the server's limit");
    case 415:
      return make("UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
    case 404:
      return make("NOT_FOUND", "no such route");
    case 503:
      return make("SHUTTING_DOWN", "the server is shutting down");
    case 400:
      return make("INPUT_INVALID", f.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ? "the JSON body is empty" : "the body is not valid JSON");
    default:
      log(`colts serve: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return make("INTERNAL", ERROR_CODES.INTERNAL.summary);
  }
}

function fromColts(e: ColtsError, log: (line: string) => void): ErrorAnswer {
  const status = e.httpStatus;
  if (status >= 500 && !TELLING_5XX.has(e.code)) {
    log(`colts serve: ${e.code}: ${e.stack ?? e.message}`);
    return make(e.code, ERROR_CODES[e.code].summary);
  }
  const message = scrubPaths(e.message.startsWith("colts: ") ? e.message.slice(7) : e.message);
  return make(e.code, message);
}

function make(code: ErrorCode, message: string): ErrorAnswer {
  const headers: Record<string, string> = {};
  if (code === "QUEUE_FULL" || code === "SHUTTING_DOWN") headers["retry-after"] = "1";
  if (code === "UNAUTHORIZED") headers["www-authenticate"] = 'Bearer realm="colts"';
  return { status: ERROR_CODES[code].httpStatus, code, message, headers };
}
