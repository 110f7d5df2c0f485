/**
 * Every failure becomes `{ "error": { "code", "message" } }` with the code's HTTP status, including
 * what the HTTP parser refuses before fastify sees a request (headers too large, a Content-Length
 * that lies). Nothing internal leaves the server: no stack traces, no details objects, file paths in
 * messages replaced by "<path>" (unless the caller sent that very text: an index name it asked for),
 * and 5xx messages (other than overload answers) replaced by the code's summary. Schema validation
 * messages name fields of the body (`body/documents/0/id must be string`) and are never scrubbed.
 */
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
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

/**
 * Replaces path-like text by "<path>", except text that occurs in `sent` (what the caller sent: the
 * request's URL and body), which is the caller's own and may be echoed back.
 */
export function scrubPaths(message: string, sent = ""): string {
  return message.replace(PATHS, (m) => (sent !== "" && sent.includes(m) ? m : "<path>"));
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  validation?: { keyword: string }[];
  message?: string;
}

/** The error answer for `e`; `sent` is the request's own text (URL and body), see {@link scrubPaths}. */
export function answerFor(e: unknown, log: (line: string) => void, sent = ""): ErrorAnswer {
  if (e instanceof ColtsError) return fromColts(e, log, sent);
  const f = (typeof e === "object" && e !== null ? e : {}) as FastifyLikeError;
  if (Array.isArray(f.validation)) {
    const limit = f.validation.some((v) => v.keyword === "maxItems" || v.keyword === "maxLength");
    // ajv's messages are built from the schema and the field's place in the body: no server data.
    return make(limit ? "LIMIT_EXCEEDED" : "INPUT_INVALID", f.message ?? "invalid request");
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
      if (f.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH") return make("INPUT_INVALID", "the body's length does not match its Content-Length");
      return make("INPUT_INVALID", f.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ? "the JSON body is empty" : "the body is not valid JSON");
    default:
      log(`colts serve: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return make("INTERNAL", ERROR_CODES.INTERNAL.summary);
  }
}

function fromColts(e: ColtsError, log: (line: string) => void, sent: string): ErrorAnswer {
  const status = e.httpStatus;
  if (status >= 500 && !TELLING_5XX.has(e.code)) {
    log(`colts serve: ${e.code}: ${e.stack ?? e.message}`);
    return make(e.code, ERROR_CODES[e.code].summary);
  }
  const message = scrubPaths(e.message.startsWith("colts: ") ? e.message.slice(7) : e.message, sent);
  return make(e.code, message);
}

/**
 * Node's HTTP parser refuses some requests before fastify sees them (headers over the size limit, a
 * malformed or doubled Content-Length, bytes after a body shorter than its Content-Length claimed, a
 * request not received in time); its own answer has another shape. This writes ours, then closes the
 * connection (the parser cannot find the next request's start).
 */
export function clientErrorAnswer(e: NodeJS.ErrnoException, socket: Duplex): void {
  if (e.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [code, message]: [ErrorCode, string] =
    e.code === "HPE_HEADER_OVERFLOW"
      ? ["HEADERS_TOO_LARGE", "the request's headers are larger than the server accepts (16 KiB by default)"]
      : e.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? ["INPUT_INVALID", "the request was not received in time (is the body shorter than its Content-Length?)"]
        : e.code === "HPE_INVALID_CONTENT_LENGTH" || e.code === "HPE_UNEXPECTED_CONTENT_LENGTH"
          ? ["INPUT_INVALID", "the Content-Length header is malformed or given more than once"]
          : e.code === "HPE_INVALID_EOF_STATE"
            ? ["INPUT_INVALID", "the request ended before its body did (is the body shorter than its Content-Length?)"]
            : ["INPUT_INVALID", "malformed HTTP request (is the body longer than its Content-Length?)"];
  const status = ERROR_CODES[code].httpStatus;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
}

function make(code: ErrorCode, message: string): ErrorAnswer {
  const headers: Record<string, string> = {};
  if (code === "QUEUE_FULL" || code === "SHUTTING_DOWN") headers["retry-after"] = "1";
  if (code === "UNAUTHORIZED") headers["www-authenticate"] = 'Bearer realm="colts"';
  return { status: ERROR_CODES[code].httpStatus, code, message, headers };
}
