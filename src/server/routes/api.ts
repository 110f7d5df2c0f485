/**
 * The JSON API as a table of routes: build.ts registers them with fastify and openapi.ts describes
 * them, so the document cannot drift from what is served. Handlers only validate what a schema
 * cannot say, then hand work to the engine through the gate (admission + timeout).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { MultiVector } from "../../encode/multivector.js";
import { missingShardsOf } from "../../location/partial.js";
import type { Engine } from "../engine.js";
import type { WorkGate } from "../gate.js";
import { checkNewDocuments, searchRequest, uniqueIds, type SearchBody } from "../requests.js";
import type { Schemas } from "../schemas.js";

export interface ApiContext {
  engine: Engine;
  gate: WorkGate;
  schemas: Schemas;
  /** Prometheus text for GET /metrics. */
  metricsText: () => string;
}

export interface RouteDef {
  method: "GET" | "POST" | "DELETE";
  url: string;
  summary: string;
  tag: string;
  body?: Record<string, unknown>;
  params?: Record<string, unknown>;
  response?: Record<string, unknown>;
  /** Text responses (metrics) instead of JSON. */
  produces?: string;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const nameOf = (req: FastifyRequest): string => (req.params as { name: string }).name;

function vectorsJson(v: MultiVector): number[][] {
  return Array.from({ length: v.tokens }, (_, i) => Array.from(v.vectors.subarray(i * v.dim, (i + 1) * v.dim)));
}

export function apiRoutes(ctx: ApiContext): RouteDef[] {
  const { engine, gate, schemas: s } = ctx;
  const defaultIndex = (given: string | undefined): string => given ?? engine.names()[0] ?? "";
  return [
    {
      method: "POST",
      url: "/indexes/:name/search",
      summary: "Search one query or a batch; any retriever; PLAID parameters; metadata filter; explanations.",
      tag: "search",
      params: s.nameParam,
      body: s.search,
      response: s.searchResponse,
      handler: async (req) => {
        const name = nameOf(req);
        engine.summary(name);
        const { queries, options } = searchRequest(req.body as SearchBody);
        const start = performance.now();
        const results = await gate.run(() => engine.search(name, queries, options));
        const missingShards = missingShardsOf(results);
        return { results, tookMs: Math.round((performance.now() - start) * 1000) / 1000, ...(missingShards.length > 0 ? { partial: { missingShards } } : {}) };
      },
    },
    {
      method: "POST",
      url: "/rerank",
      summary: "Exact MaxSim of one query against given candidate texts (no index).",
      tag: "model",
      body: s.rerank,
      handler: async (req) => {
        const b = req.body as { query: string; documents: ({ id: string; text: string } | string)[]; k?: number; index?: string };
        const index = defaultIndex(b.index);
        engine.summary(index);
        const documents = b.documents.map((d, i) => (typeof d === "string" ? { id: String(i), text: d } : d));
        return { hits: await gate.run(() => engine.rerank(index, b.query, documents, b.k)) };
      },
    },
    {
      method: "POST",
      url: "/encode",
      summary: "Encode queries or documents to token vectors (micro-batched with concurrent requests).",
      tag: "model",
      body: s.encode,
      handler: async (req) => {
        const b = req.body as { texts: string[]; kind?: "query" | "document"; index?: string };
        const index = defaultIndex(b.index);
        engine.summary(index);
        const vs = await gate.run(() => engine.encode(index, b.kind ?? "query", b.texts));
        return { embeddings: vs.map((v) => ({ tokens: v.tokens, dim: v.dim, vectors: vectorsJson(v) })) };
      },
    },
    {
      method: "POST",
      url: "/indexes/:name/documents",
      summary: "Add documents (encoded with the index's model); applied atomically.",
      tag: "indexes",
      params: s.nameParam,
      body: s.addDocuments,
      handler: async (req) => {
        const name = nameOf(req);
        engine.summary(name);
        const b = req.body as { documents: { id: string; text: string; metadata?: Record<string, unknown> | null }[] };
        checkNewDocuments(b.documents);
        return gate.run(() => engine.add(name, b.documents));
      },
    },
    {
      method: "DELETE",
      url: "/indexes/:name/documents",
      summary: "Delete documents by id; applied atomically. Unknown ids are reported as missing; an id given twice counts once.",
      tag: "indexes",
      params: s.nameParam,
      body: s.deleteDocuments,
      handler: async (req) => {
        const name = nameOf(req);
        engine.summary(name);
        const b = req.body as { ids: string[] };
        const ids = uniqueIds(b.ids);
        return gate.run(() => engine.delete(name, ids));
      },
    },
    {
      method: "GET",
      url: "/indexes",
      summary: "Served indexes with their statistics.",
      tag: "indexes",
      handler: () => Promise.resolve({ indexes: engine.names().map((n) => engine.summary(n)) }),
    },
    {
      method: "GET",
      url: "/indexes/:name",
      summary: "Statistics of one index.",
      tag: "indexes",
      params: s.nameParam,
      handler: (req) => Promise.resolve(engine.summary(nameOf(req))),
    },
    {
      method: "GET",
      url: "/health",
      summary: "Liveness (no token needed).",
      tag: "ops",
      handler: () => Promise.resolve({ status: "ok" }),
    },
    {
      method: "GET",
      url: "/metrics",
      summary: "Prometheus metrics: requests, latencies, queue depth, index sizes.",
      tag: "ops",
      produces: "text/plain; version=0.0.4",
      handler: async (_req, reply) => {
        await reply.type("text/plain; version=0.0.4; charset=utf-8").send(ctx.metricsText());
        return reply;
      },
    },
  ];
}
