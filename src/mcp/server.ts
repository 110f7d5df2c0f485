/**
 * `colts mcp`: the served indexes as a Model Context Protocol server (the SDK's low-level `Server`).
 * Tools `search` and `explain` (and, when writes are allowed, `add` and `delete`); every index as a
 * resource. The work goes through the HTTP server's engine and gate, and a tool's arguments are
 * checked against the HTTP API's own JSON schemas (server/schemas.ts, limits included) and request
 * rules (server/requests.ts), so both front ends accept and refuse the same requests.
 *
 * Errors: arguments that fail the schema, an unknown tool and an unknown resource are protocol
 * errors (JSON-RPC -32602, invalid params; `data.code` holds the colts code: INPUT_INVALID, or
 * LIMIT_EXCEEDED for a list or text over a limit). Failures while running a valid call (a filter that
 * does not parse, an unknown index or id, a busy queue) are tool results with `isError: true` whose
 * text is `{"error":{"code","message"}}`, the HTTP API's error body, scrubbed the same way.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ErrorCode as RpcCode,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { ColtsError } from "../errors.js";
import type { ExplainedHit } from "../search/searcher.js";
import type { Engine } from "../server/engine.js";
import { answerFor } from "../server/errors.js";
import { WorkGate, type GateOptions } from "../server/gate.js";
import { checkNewDocuments, searchRequest, uniqueIds, type SearchBody } from "../server/requests.js";
import { DEFAULT_LIMITS, schemas, type ServerLimits } from "../server/schemas.js";
import type { AddRequest } from "../server/tasks.js";

/** What `createMcpServer` serves and how. */
export interface McpServerOptions {
  /** Holds the indexes and models; every tool's work goes through it. */
  engine: Engine;
  /** Offer the `add` and `delete` tools. Default false: the server is read-only. */
  allowWrites?: boolean;
  /** Limits on arguments, the HTTP server's (defaults in server/schemas.ts DEFAULT_LIMITS; bodyBytes does not apply). */
  limits?: Partial<ServerLimits>;
  /** Admission and timeouts, as for HTTP (defaults in server/gate.ts: 128 calls at once, 30000 ms each). */
  gate?: GateOptions;
  /** Characters of a hit's stored text returned as its snippet. Default 300; range >= 1. */
  snippetChars?: number;
  /** Where internal errors are logged (never sent to the client). Default: stderr (stdout carries the protocol). */
  log?: (line: string) => void;
  /** Version reported to clients. Default "0.1.0". */
  version?: string;
}

/** A search hit as the `search` tool returns it. */
export interface McpHit {
  /** The document's id. */
  id: string;
  /** The retriever's score (MaxSim, BM25 or fused; see ExplainedHit). */
  score: number;
  /** The stored metadata, or null. */
  metadata: Record<string, unknown> | null;
  /** The first `snippetChars` characters of the stored text ("..." appended when cut); absent when the index stores no text. */
  snippet?: string;
}

type Args = Record<string, unknown>;

interface ToolDef {
  tool: Tool;
  run: (args: Args) => Promise<unknown>;
}

/** URI of an index's resource. */
export const indexUri = (name: string): string => `colts://indexes/${encodeURIComponent(name)}`;

/** The MCP server over `opts.engine` (see the module comment); connect it to a transport. */
export function createMcpServer(opts: McpServerOptions): Server {
  const engine = opts.engine;
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const s = schemas(limits);
  const gate = new WorkGate(opts.gate);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const snippetChars = opts.snippetChars ?? 300;
  const defaultIndex = engine.names()[0] ?? "";
  const search = s.search.properties;
  const index = { ...s.nameParam.properties.name, description: `Index name (see the resources). Default: ${defaultIndex}.` };
  const id = { type: "string", minLength: 1, maxLength: 1024 };
  const object = (required: string[], properties: Record<string, object>): Tool["inputSchema"] => ({ type: "object", additionalProperties: false, required, properties });

  const snippet = (h: ExplainedHit): McpHit => {
    const hit: McpHit = { id: h.id, score: h.score, metadata: h.metadata ?? null };
    if (h.text !== undefined) hit.snippet = h.text.length > snippetChars ? `${h.text.slice(0, snippetChars)}...` : h.text;
    return hit;
  };

  const tools: ToolDef[] = [
    {
      tool: {
        name: "search",
        title: "Search an index",
        description: "Ranked documents for one text query: ids, scores, metadata and text snippets. Retrievers: plaid (default), exact, bm25, bm25+rerank, hybrid, keyword (the index's keyword index: BM25 for a folder, full-text search for PostgreSQL).",
        inputSchema: object(["query"], {
          query: { ...s.rerank.properties.query, description: "The query text." },
          index,
          k: search.k,
          retriever: search.retriever,
          depth: search.depth,
          params: search.params,
          filter: search.filter,
          ids: search.ids,
        }),
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      run: async (a) => {
        const name = (a["index"] as string | undefined) ?? defaultIndex;
        engine.summary(name);
        // The schema admits only SearchBody's fields besides `index`, which names the index, not the query.
        const body: SearchBody & { index?: unknown } = { ...a };
        delete body.index;
        const { queries, options } = searchRequest(body);
        const [hits = []] = await gate.run(() => engine.search(name, queries, { ...options, withText: true }));
        return { index: name, results: hits.map(snippet) };
      },
    },
    {
      tool: {
        name: "explain",
        title: "Explain a hit",
        description:
          "How one document matches a query: its exact MaxSim score and, for each query token, the document token it matched and their similarity (their sum is the score, up to the index's compression of the vectors). Needs an index that stores texts.",
        inputSchema: object(["query", "id"], { query: { ...s.rerank.properties.query, description: "The query text." }, id: { ...id, description: "The document's id." }, index }),
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      run: async (a) => {
        const name = (a["index"] as string | undefined) ?? defaultIndex;
        const docId = a["id"] as string;
        engine.summary(name);
        // The exact retriever restricted to this id scores it as every dense retriever's last stage does.
        const { queries, options } = searchRequest({ query: a["query"] as string, k: 1, retriever: "exact", ids: [docId], explain: true });
        const [[hit] = []] = await gate.run(() => engine.search(name, queries, options));
        if (!hit) throw new ColtsError("NOT_FOUND", `index ${name} has no live document with id ${JSON.stringify(docId)}`);
        if (!hit.explanation) throw new ColtsError("INPUT_INVALID", `index ${name} stores no text for ${JSON.stringify(docId)}: nothing to explain`);
        return { index: name, id: hit.id, score: hit.score, metadata: hit.metadata ?? null, explanation: hit.explanation, documentTokens: hit.documentTokens };
      },
    },
  ];
  if (opts.allowWrites) {
    tools.push(
      {
        tool: {
          name: "add",
          title: "Add documents",
          description: "Encode and add documents (new ids only) to an index; applied atomically.",
          inputSchema: object(["documents"], { index, documents: s.addDocuments.properties.documents }),
          annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
        },
        run: async (a) => {
          const name = (a["index"] as string | undefined) ?? defaultIndex;
          engine.summary(name);
          const documents = a["documents"] as AddRequest["documents"];
          checkNewDocuments(documents);
          return { index: name, ...(await gate.run(() => engine.add(name, documents))) };
        },
      },
      {
        tool: {
          name: "delete",
          title: "Delete documents",
          description: "Delete documents by id; applied atomically. Unknown ids are reported as missing.",
          inputSchema: object(["ids"], { index, ids: s.deleteDocuments.properties.ids }),
          annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
        },
        run: async (a) => {
          const name = (a["index"] as string | undefined) ?? defaultIndex;
          engine.summary(name);
          const ids = uniqueIds(a["ids"] as string[]);
          return { index: name, ...(await gate.run(() => engine.delete(name, ids))) };
        },
      },
    );
  }

  const validator = new AjvJsonSchemaValidator();
  const checks = new Map(tools.map((t) => [t.tool.name, { def: t, check: validator.getValidator<Args>(t.tool.inputSchema as Parameters<typeof validator.getValidator>[0]) }]));

  const server = new Server({ name: "colts", version: opts.version ?? "0.1.0" }, { capabilities: { tools: {}, resources: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((t) => t.tool) }));
  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
    const entry = checks.get(req.params.name);
    if (!entry) throw new McpError(RpcCode.InvalidParams, `no tool named ${JSON.stringify(req.params.name)}; tools: ${[...checks.keys()].join(", ")}`, { code: "INPUT_INVALID" });
    const args = req.params.arguments ?? {};
    const checked = entry.check(args);
    if (!checked.valid) {
      // ajv's messages name the argument and the schema's bound ("must NOT have more than 8192 characters"); no server data.
      const code = /must NOT have more than \d+ (items|characters)/.test(checked.errorMessage) ? "LIMIT_EXCEEDED" : "INPUT_INVALID";
      throw new McpError(RpcCode.InvalidParams, `${req.params.name}: ${checked.errorMessage}`, { code });
    }
    try {
      const result = await entry.def.run(args);
      return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result as Record<string, unknown> };
    } catch (e) {
      const a = answerFor(e, log, JSON.stringify(args));
      return { isError: true, content: [{ type: "text", text: JSON.stringify({ error: { code: a.code, message: a.message } }) }] };
    }
  });
  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: engine.names().map((name) => ({ uri: indexUri(name), name, title: `colts index ${name}`, description: "The index's statistics (documents, vectors, model, generation).", mimeType: "application/json" })),
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (req) => {
    const name = engine.names().find((n) => indexUri(n) === req.params.uri);
    if (name === undefined) throw new McpError(RpcCode.InvalidParams, `no resource ${req.params.uri}`, { code: "NOT_FOUND" });
    return { contents: [{ uri: req.params.uri, mimeType: "application/json", text: JSON.stringify(engine.summary(name)) }] };
  });
  const close = server.onclose;
  server.onclose = () => {
    void gate.drain();
    close?.();
  };
  return server;
}
