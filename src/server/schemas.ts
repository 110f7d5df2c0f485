/**
 * JSON schemas of the API (request validation by fastify's ajv, and the OpenAPI document). Limits
 * are part of the schemas (maxItems, maxLength, maximum) so that a request over a limit is refused
 * before any work, with a message naming the field.
 */
import { DEFAULT_K } from "../plaid/stages.js";
import { RETRIEVERS } from "../search/searcher.js";

/** Request size limits of the HTTP API; a request over one is refused before any work. */
export interface ServerLimits {
  /** Largest request body in bytes. Default 1 MiB. Larger bodies answer 413 LIMIT_EXCEEDED. */
  bodyBytes: number;
  /** Queries per search request and texts per encode request. Default 64. */
  batch: number;
  /** Documents per add, ids per delete, candidates per rerank. Default 1000. */
  documents: number;
  /** Characters per query or document text. Default 8192 (documents are truncated by the model anyway). */
  textChars: number;
  /** Largest k. Default 1000. */
  k: number;
  /** Vectors per pre-encoded query. Default 512. */
  queryVectors: number;
}

/** The limits used for whatever `ServerDeps.limits` leaves out (values in `ServerLimits`' comments). */
export const DEFAULT_LIMITS: ServerLimits = { bodyBytes: 1 << 20, batch: 64, documents: 1000, textChars: 8192, k: 1000, queryVectors: 512 };

type Schema = Record<string, unknown>;

const errorSchema: Schema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string", description: "Stable code from the colts error table." }, message: { type: "string" }, details: { type: "object" } },
    },
  },
};

export function schemas(l: ServerLimits) {
  const text = { type: "string", maxLength: l.textChars };
  const vectors = { type: "array", minItems: 1, maxItems: l.queryVectors, items: { type: "array", minItems: 1, maxItems: 4096, items: { type: "number" } } };
  const query = { oneOf: [text, { type: "object", additionalProperties: false, required: ["vectors"], properties: { vectors } }] };
  const nameParam = { type: "object", required: ["name"], properties: { name: { type: "string", maxLength: 64 } } };
  const hit = {
    type: "object",
    properties: {
      id: { type: "string" },
      score: { type: "number" },
      ordinal: { type: "integer" },
      metadata: { type: ["object", "null"] },
      explanation: { type: "array", items: { type: "object" } },
      documentTokens: { type: "array", items: { type: "string" } },
      text: { type: "string" },
    },
  };
  return {
    error: errorSchema,
    nameParam,
    search: {
      type: "object",
      additionalProperties: false,
      examples: [{ query: "parallel sorting algorithms", k: 10, retriever: "plaid" }],
      properties: {
        query: { ...query, description: "One query: a text, or {vectors: [[...dim numbers], ...]} already encoded with the index's model." },
        queries: { type: "array", minItems: 1, maxItems: l.batch, items: query, description: "A batch of queries (instead of `query`)." },
        k: { type: "integer", minimum: 1, maximum: l.k, default: DEFAULT_K },
        retriever: { type: "string", enum: [...RETRIEVERS], default: "plaid" },
        depth: { type: "integer", minimum: 1, maximum: 10_000, description: "First-stage candidates for bm25+rerank and hybrid. Default 100." },
        params: {
          type: "object",
          additionalProperties: false,
          description: "PLAID parameters (defaults depend on k).",
          properties: {
            ncells: { type: "integer", minimum: 1, maximum: 1 << 16 },
            centroidScoreThreshold: { type: "number", minimum: -1, maximum: 1 },
            ndocs: { type: "integer", minimum: 1, maximum: 1 << 20 },
          },
        },
        filter: { type: "string", maxLength: 4096, description: "Metadata condition, e.g. year >= 1970 AND lang = 'en'." },
        ids: { type: "array", maxItems: l.documents, items: { type: "string", maxLength: 1024 }, description: "Only score these document ids." },
        explain: { type: "boolean", default: false, description: "Attach per-query-token MaxSim matches (needs stored texts; refused with the bm25 retriever)." },
        postgres: {
          type: "object",
          additionalProperties: false,
          description: "PostgreSQL index options (a folder index ignores them).",
          properties: {
            firstStage: { type: "string", enum: ["ivf", "fde"], description: "First stage: IVF lists (PLAID, default; takes ncells / threshold / ndocs) or FDEs in HNSW (takes candidates / rerank / efSearch)." },
            candidates: { type: "integer", minimum: 1, maximum: 100_000, description: "FDE candidates from the HNSW index. Default 1000; more: higher recall, slower." },
            rerank: { type: "integer", minimum: 1, maximum: 100_000, description: "Candidates scored by exact MaxSim after the centroid pass. Default candidates / 4." },
            efSearch: { type: "integer", minimum: 1, maximum: 1000, description: "pgvector hnsw.ef_search. Default the candidate count, at most 1000." },
            allowPartial: {
              type: "boolean",
              default: false,
              description: "Sharded index: when shards are down, rank the others' hits and name the missing shards in `partial` instead of failing with SHARD_UNAVAILABLE (503).",
            },
          },
        },
      },
    },
    searchResponse: {
      type: "object",
      properties: {
        results: { type: "array", items: { type: "array", items: hit } },
        tookMs: { type: "number" },
        partial: {
          type: "object",
          description: "Only when postgres.allowPartial let shards be left out: the shards no result includes.",
          properties: { missingShards: { type: "array", items: { type: "string" } } },
        },
      },
    },
    encode: {
      type: "object",
      additionalProperties: false,
      required: ["texts"],
      properties: {
        texts: { type: "array", minItems: 1, maxItems: l.batch, items: text },
        kind: { type: "string", enum: ["query", "document"], default: "query" },
        index: { type: "string", maxLength: 64, description: "Use this index's model. Default: the first served index." },
      },
    },
    rerank: {
      type: "object",
      additionalProperties: false,
      required: ["query", "documents"],
      properties: {
        query: text,
        documents: {
          type: "array",
          minItems: 1,
          maxItems: l.documents,
          items: { oneOf: [text, { type: "object", additionalProperties: false, required: ["id", "text"], properties: { id: { type: "string", maxLength: 1024 }, text } }] },
        },
        k: { type: "integer", minimum: 1, maximum: l.k },
        index: { type: "string", maxLength: 64 },
      },
    },
    addDocuments: {
      type: "object",
      additionalProperties: false,
      required: ["documents"],
      properties: {
        documents: {
          type: "array",
          minItems: 1,
          maxItems: l.documents,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["id", "text"],
            properties: { id: { type: "string", minLength: 1, maxLength: 1024 }, text, metadata: { type: ["object", "null"] } },
          },
        },
      },
    },
    deleteDocuments: {
      type: "object",
      additionalProperties: false,
      required: ["ids"],
      properties: { ids: { type: "array", minItems: 1, maxItems: l.documents, items: { type: "string", maxLength: 1024 } } },
    },
  };
}

export type Schemas = ReturnType<typeof schemas>;
