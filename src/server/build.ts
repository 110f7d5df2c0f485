/**
 * `buildServer(deps)`: the fastify instance of `colts serve`, ready for `listen()` or, in tests,
 * `inject()`. Wires auth, CORS, metrics, error answers, the JSON API (routes/api.ts), the OpenAPI
 * document, the docs page and the web UI.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { ColtsError } from "../errors.js";
import { bearerChecker } from "./auth.js";
import type { Engine } from "./engine.js";
import { answerFor, clientErrorAnswer } from "./errors.js";
import { WorkGate, type GateOptions } from "./gate.js";
import { Metrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { apiRoutes, type RouteDef } from "./routes/api.js";
import { DEFAULT_LIMITS, schemas, type ServerLimits } from "./schemas.js";
import { loadUi, SECURITY_HEADERS, UI_DIR } from "./static.js";

/** What `buildServer` needs: the engine that does the work, and the server's settings. */
export interface ServerDeps {
  /** Holds the indexes and the models; every route's work goes through it. */
  engine: Engine;
  /** Bearer token required on every route but /health and the static UI files; null/undefined = no auth. */
  token?: string | null;
  /** Request limits (defaults in schemas.ts DEFAULT_LIMITS). */
  limits?: Partial<ServerLimits>;
  /** Admission and timeouts (defaults in gate.ts). */
  gate?: GateOptions;
  /** Origin allowed to call the API from a browser (e.g. "https://app.example"), "*" for any; default none: CORS off. */
  corsOrigin?: string | null;
  /** Where internal errors are logged (never sent to clients). Default: stderr. */
  log?: (line: string) => void;
  /** Version reported in the OpenAPI document. */
  version?: string;
  /** Folder of the UI files. Default: the package's ui/. */
  uiDir?: string;
}

/** The built server and the parts of it callers may inspect. */
export interface ColtsServer {
  /** The fastify instance: `listen()` it, or `inject()` requests in tests. */
  app: FastifyInstance;
  /** Admission control of the work routes (in-flight limit and timeouts). */
  gate: WorkGate;
  /** Request counters and latency histograms served at /metrics. */
  metrics: Metrics;
}

/** Paths anyone may fetch: liveness, and the static UI/docs files (they hold no data; the pages ask for the token). */
const PUBLIC = new Set(["/health", "/", "/docs", "/ui/app.js", "/ui/style.css", "/ui/docs.js", "/favicon.ico"]);

/** Builds the HTTP server over `deps.engine` (see the file comment); it does not listen yet. */
export function buildServer(deps: ServerDeps): ColtsServer {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const s = schemas(limits);
  const gate = new WorkGate(deps.gate);
  const metrics = new Metrics();
  const ui = loadUi(deps.uiDir ?? UI_DIR);
  const app = Fastify({
    logger: false,
    bodyLimit: limits.bodyBytes,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    clientErrorHandler: clientErrorAnswer,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  });
  const engine = deps.engine;
  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser("text/plain");
  const checker = deps.token ? bearerChecker(deps.token) : () => true;

  app.addHook("onRequest", async (req, reply) => {
    void reply.headers({ "x-content-type-options": "nosniff" });
    if (deps.corsOrigin) cors(req, reply, deps.corsOrigin);
    if (req.method === "OPTIONS") return;
    const path = req.url.split("?")[0] ?? "";
    if (deps.token && !PUBLIC.has(path) && !checker(req.headers.authorization)) {
      throw new ColtsError("UNAUTHORIZED", "send Authorization: Bearer <token>");
    }
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.observe(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (e, req, reply) => {
    const a = answerFor(e, log, sentText(req));
    await reply.code(a.status).headers(a.headers).type("application/json; charset=utf-8").send({ error: { code: a.code, message: a.message } });
  });
  app.setNotFoundHandler(async (req, reply) => {
    if (req.method === "OPTIONS" && deps.corsOrigin) return reply.code(204).send();
    const a = answerFor(new ColtsError("NOT_FOUND", `no route ${req.method} for this path`), log);
    return reply.code(a.status).send({ error: { code: a.code, message: a.message } });
  });

  const routes: RouteDef[] = apiRoutes({ engine, gate, schemas: s, metricsText: () => metricsText(metrics, engine, gate) });
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      schema: { ...(r.body ? { body: r.body } : {}), ...(r.params ? { params: r.params } : {}) },
      handler: r.handler,
    });
  }
  const doc = openApiDocument(routes, s, deps.version ?? "0.1.0", Boolean(deps.token));
  app.get("/openapi.json", () => Promise.resolve(doc));

  const file = (name: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
    const f = ui.get(name);
    if (!f) throw new ColtsError("NOT_FOUND", "no such file");
    await reply.headers(SECURITY_HEADERS).type(f.type).send(f.body);
    return reply;
  };
  app.get("/", file("index.html"));
  app.get("/docs", file("docs.html"));
  for (const name of ["app.js", "style.css", "docs.js"]) app.get(`/ui/${name}`, file(name));
  return { app, gate, metrics };
}

/** What the caller sent (URL, decoded too, and body): text an error message may echo back unscrubbed. */
function sentText(req: FastifyRequest): string {
  let url = req.url;
  try {
    url += `\n${decodeURIComponent(req.url)}`;
  } catch {
    // A malformed %-escape: the raw URL alone.
  }
  const params = Object.values((req.params ?? {}) as Record<string, unknown>).filter((v) => typeof v === "string");
  return [url, ...params, req.body === undefined ? "" : JSON.stringify(req.body)].join("\n");
}

function cors(req: FastifyRequest, reply: FastifyReply, origin: string): void {
  const from = req.headers.origin;
  if (origin !== "*" && from !== origin) return;
  void reply.headers({
    "access-control-allow-origin": origin === "*" ? "*" : origin,
    vary: "Origin",
    "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
    "access-control-allow-headers": "authorization, content-type",
    "access-control-max-age": "600",
  });
}

function metricsText(metrics: Metrics, engine: Engine, gate: WorkGate): string {
  const perIndex = (pick: (s: ReturnType<Engine["summary"]>) => number) => engine.names().map((n) => ({ labels: { index: n }, value: pick(engine.summary(n)) }));
  const batches = engine.encodeBatches;
  return metrics.render([
    { name: "colts_inflight_requests", help: "Requests admitted and not finished (running or queued).", values: [{ value: gate.inflight }] },
    { name: "colts_queue_depth", help: "Tasks waiting for a worker plus texts waiting for their encode batch.", values: [{ value: engine.queueDepth }] },
    { name: "colts_queue_limit", help: "Admitted requests at most; more answer 503.", values: [{ value: gate.maxInflight }] },
    { name: "colts_workers", help: "Worker threads.", values: [{ value: engine.workers }] },
    { name: "colts_workers_busy", help: "Worker threads running a task.", values: [{ value: engine.busyWorkers }] },
    { name: "colts_rejected_total", help: "Requests refused with 503 because the queue was full.", type: "counter", values: [{ value: gate.rejected }] },
    { name: "colts_timeouts_total", help: "Requests answered 504 after the per-request timeout.", type: "counter", values: [{ value: gate.timedOut }] },
    { name: "colts_encode_batches_total", help: "Encode batches sent to workers (micro-batched).", type: "counter", values: [{ value: batches.batches }] },
    { name: "colts_encode_batch_texts_total", help: "Texts in those batches.", type: "counter", values: [{ value: batches.texts }] },
    { name: "colts_index_documents", help: "Documents stored (deleted ones included until compaction).", values: perIndex((x) => x.documents) },
    { name: "colts_index_live_documents", help: "Documents not deleted.", values: perIndex((x) => x.liveDocuments) },
    { name: "colts_index_vectors", help: "Stored token vectors.", values: perIndex((x) => x.vectors) },
    { name: "colts_index_generation", help: "Committed writes so far.", values: perIndex((x) => x.generation) },
  ]);
}
