/**
 * `colts mcp <[name=]index-dir>...`: the indexes as a Model Context Protocol server over stdio (for
 * agents and MCP clients). stdout carries the protocol alone; messages go to stderr. Runs until the
 * client closes stdin, or SIGTERM / SIGINT, then lets calls in progress finish and stops the workers.
 * The MCP SDK (an optional dependency) is imported only when this command runs.
 */
import type { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { ColtsError } from "../../errors.js";
import type * as McpServerModule from "../../mcp/server.js";
import { intFlag, parse, usageError, type CommandSpec } from "../args.js";
import { MODEL_FLAGS } from "../model-flags.js";
import type { CliIO } from "../io.js";
import { startEngine } from "./serve.js";

/** `colts mcp`: its flags and help page, the one declaration that parsing and `--help` read. */
export const MCP_SPEC: CommandSpec = {
  name: "mcp",
  summary: "serve indexes to MCP clients over stdio: search and explain tools, indexes as resources",
  usage: ["<[name=]location>... (an index folder or a postgres:// URL, as colts serve takes them)"],
  description: `Speaks the Model Context Protocol on stdin/stdout. Tools: search (query, index, k, filter,
retriever, PLAID params; hits with ids, scores, metadata, text snippets) and explain (the token matches of
one hit); add and delete only with --allow-writes. Each index is a resource (its statistics) named like
colts serve names it. Arguments are checked against the HTTP API's schemas and limits.`,
  flags: [
    { name: "allow-writes", type: "boolean", help: "also offer the add and delete tools (default: read-only)" },
    { name: "model", short: "m", type: "string", arg: "M", default: "the model each index records", help: "model for every index" },
    { name: "snippet", type: "string", arg: "N", default: "300", help: "characters of stored text per search hit, 1..100000" },
    { name: "max-queue", type: "string", arg: "N", default: "128", help: "tool calls admitted at once; more get a QUEUE_FULL error" },
    { name: "timeout-ms", type: "string", arg: "N", default: "30000", help: "per-call timeout (TIMEOUT error)" },
    { name: "max-k", type: "string", arg: "N", default: "1000", help: "largest k" },
    { name: "max-text", type: "string", arg: "N", default: "8192", help: "characters per query or document text" },
    { name: "max-documents", type: "string", arg: "N", default: "1000", help: "documents per add, ids per delete or search" },
    ...MODEL_FLAGS,
  ],
  example: "colts mcp docs=./idx --allow-writes",
};

export async function mcpCommand(argv: string[], io: CliIO, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values, positionals } = parse(argv, MCP_SPEC);
  if (positionals.length === 0) throw usageError(MCP_SPEC, "give at least one index location");
  const snippetChars = intFlag(values, "snippet", 1, 100_000);
  const maxQueue = intFlag(values, "max-queue", 1, 1_000_000);
  const timeoutMs = intFlag(values, "timeout-ms", 1, 3_600_000);
  const maxK = intFlag(values, "max-k", 1, 10_000);
  const maxText = intFlag(values, "max-text", 1, 1 << 24);
  const maxDocuments = intFlag(values, "max-documents", 1, 1_000_000);
  // The SDK first: a missing one is reported before any model is loaded.
  const sdk = await importSdk();
  const engine = await startEngine(values, positionals, io, "mcp");
  const mcp = sdk.createMcpServer({
    engine,
    allowWrites: values["allow-writes"] === true,
    limits: { ...(maxK ? { k: maxK } : {}), ...(maxText ? { textChars: maxText } : {}), ...(maxDocuments ? { documents: maxDocuments } : {}) },
    gate: { ...(maxQueue ? { maxInflight: maxQueue } : {}), ...(timeoutMs ? { timeoutMs } : {}) },
    ...(snippetChars ? { snippetChars } : {}),
    log: (line) => io.stderr.write(`${line}\n`),
  });
  const transport = new sdk.StdioServerTransport(io.stdin, io.stdout);
  const closed = new Promise<void>((resolve) => {
    const stop = (): void => {
      signals.off("SIGTERM", stop);
      signals.off("SIGINT", stop);
      io.stdin.off("end", stop);
      resolve();
    };
    signals.on("SIGTERM", stop);
    signals.on("SIGINT", stop);
    // The client closing its end of the pipe is how stdio MCP servers are told to stop.
    io.stdin.on("end", stop);
    transport.onclose = stop;
  });
  await mcp.connect(transport);
  io.stderr.write(`colts mcp: serving ${engine.names().join(", ")} over stdio (${values["allow-writes"] === true ? "writes allowed" : "read-only"})\n`);
  await closed;
  await mcp.close();
  await engine.close();
  io.stderr.write("colts mcp: stopped\n");
  return 0;
}

/** The MCP server module and the SDK's stdio transport; a missing optional SDK is a USAGE error naming the package. */
async function importSdk(): Promise<typeof McpServerModule & { StdioServerTransport: typeof StdioServerTransport }> {
  try {
    const [server, stdio] = await Promise.all([import("../../mcp/server.js"), import("@modelcontextprotocol/sdk/server/stdio.js")]);
    return { ...server, ...stdio };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && String((e as Error).message).includes("@modelcontextprotocol/sdk")) {
      throw new ColtsError("USAGE", "colts mcp needs the optional package @modelcontextprotocol/sdk: npm install @modelcontextprotocol/sdk", { cause: e });
    }
    throw e;
  }
}
