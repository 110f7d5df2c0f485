/**
 * `colts serve <index-dir>...`: the HTTP API and web UI over one or more indexes. Runs until
 * SIGTERM or SIGINT, then drains: stops accepting connections, lets admitted requests (writes
 * included, each atomic) finish, stops the workers, and returns 0.
 */
import path from "node:path";
import { ColtsError } from "../../errors.js";
import type { Engine } from "../../server/engine.js";
import { intFlag, parse, stringFlag, usageError, type CommandSpec, type Values } from "../args.js";
import { MODEL_FLAGS, modelLoadOptions } from "../model-flags.js";
import { locationName } from "../../location/open.js";
import { modelLocation, resolveIndexLocation, type CliIO } from "../io.js";

/** `colts serve`: its flags and help page, the one declaration that parsing and `--help` read. */
export const SERVE_SPEC: CommandSpec = {
  name: "serve",
  summary: "serve indexes over HTTP: JSON API, web UI, metrics",
  usage: ["<[name=]location>..."],
  description: `Each index is served under its name (the folder's name unless name=location), with the model it
records (or --model). A location is an index folder or a PostgreSQL URL,
postgres://user[:password]@host:port/database?prefix=colts_ (named by its prefix without the trailing
"_" unless name=...; the password, from the URL or PGPASSWORD, never appears in logs, errors or /metrics). Runs until SIGTERM or Ctrl-C, then finishes admitted requests and exits 0.
--workers counts server worker threads here (1..64), each holding every index and model.`,
  flags: [
    { name: "host", type: "string", arg: "ADDR", default: "127.0.0.1", help: "address to listen on" },
    { name: "port", short: "p", type: "string", arg: "N", default: "8080", help: "port, 0 = any free one" },
    { name: "token-env", type: "string", arg: "VAR", default: "COLTS_TOKEN", help: "environment variable holding the bearer token (unset: no auth)" },
    { name: "model", short: "m", type: "string", arg: "M", default: "the model each index records", help: "model for every index" },
    { name: "cors", type: "string", arg: "ORIGIN", default: "off", help: "allow this origin (CORS)" },
    { name: "max-queue", type: "string", arg: "N", default: "128", help: "requests admitted at once; more answer 503" },
    { name: "timeout-ms", type: "string", arg: "N", default: "30000", help: "per-request timeout (504)" },
    { name: "max-batch", type: "string", arg: "N", default: "64", help: "queries or texts per request (413)" },
    { name: "max-k", type: "string", arg: "N", default: "1000", help: "largest k (400)" },
    { name: "max-text", type: "string", arg: "N", default: "8192", help: "characters per text (413)" },
    { name: "max-body", type: "string", arg: "N", default: "1048576", help: "request body bytes (413)" },
    ...MODEL_FLAGS,
  ],
  example: "COLTS_TOKEN=secret colts serve docs=./idx --port 8080 --workers 2",
};

function indexArg(io: CliIO, arg: string): { name: string; dir: string } {
  // A name is a path segment (NAME_PATTERN), so "=" before "://" splits name=location; a URL's own
  // "=" (in ?prefix=) comes after its "://".
  const eq = arg.indexOf("=");
  const scheme = arg.indexOf("://");
  const named = eq > 0 && (scheme < 0 || eq < scheme);
  const dir = resolveIndexLocation(io, named ? arg.slice(eq + 1) : arg);
  return { name: named ? arg.slice(0, eq) : locationName(dir, (d) => path.basename(d)), dir };
}

/**
 * Starts the server engine over the `[name=]dir` arguments with the model flags (`--model` and
 * MODEL_FLAGS), as `colts serve` and `colts mcp` both do. `command` names the command in errors.
 */
export async function startEngine(values: Values, positionals: string[], io: CliIO, command: string): Promise<Engine> {
  const model = stringFlag(values, "model");
  const load = modelLoadOptions(values, io);
  // Server workers each hold the models; there is no "encode on the main thread" (0) here.
  if (load.workers === 0) throw new ColtsError("USAGE", `--workers must be an integer in 1..64 for colts ${command}, got "0"`);
  // Loaded here, not at the top: the engine's import chain is not needed by other commands.
  const { Engine } = await import("../../server/engine.js");
  return Engine.start({
    indexes: positionals.map((p) => indexArg(io, p)),
    ...(model ? { model: modelLocation(io, model) } : {}),
    workers: load.workers ?? 1,
    ...(load.threads !== undefined ? { threads: load.threads } : {}),
    ...(load.executionProvider ? { executionProvider: load.executionProvider } : {}),
    ...(load.revision ? { revision: load.revision } : {}),
    ...(load.quantized ? { quantized: true } : {}),
    ...(load.localFilesOnly ? { localFilesOnly: true } : {}),
    env: io.env,
  });
}

export async function serveCommand(argv: string[], io: CliIO, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values, positionals } = parse(argv, SERVE_SPEC);
  if (positionals.length === 0) throw usageError(SERVE_SPEC, "give at least one index location");
  const host = stringFlag(values, "host") ?? "127.0.0.1";
  const port = intFlag(values, "port", 0, 65535) ?? 8080;
  const tokenEnv = stringFlag(values, "token-env") ?? "COLTS_TOKEN";
  const token = io.env[tokenEnv]?.trim() || null;
  const maxBatch = intFlag(values, "max-batch", 1, 10_000);
  const maxK = intFlag(values, "max-k", 1, 10_000);
  const maxText = intFlag(values, "max-text", 1, 1 << 24);
  const maxBody = intFlag(values, "max-body", 1024, 1 << 30);
  // Loaded here, not at the top: fastify's import costs ~140 ms that every other command would pay.
  const [engine, { buildServer }] = await Promise.all([startEngine(values, positionals, io, "serve"), import("../../server/build.js")]);
  const maxQueue = intFlag(values, "max-queue", 1, 1_000_000);
  const timeoutMs = intFlag(values, "timeout-ms", 1, 3_600_000);
  const { app, gate } = buildServer({
    engine,
    token,
    corsOrigin: stringFlag(values, "cors") ?? null,
    limits: { ...(maxBatch ? { batch: maxBatch } : {}), ...(maxK ? { k: maxK } : {}), ...(maxText ? { textChars: maxText } : {}), ...(maxBody ? { bodyBytes: maxBody } : {}) },
    gate: { ...(maxQueue ? { maxInflight: maxQueue } : {}), ...(timeoutMs ? { timeoutMs } : {}) },
    log: (line) => io.stderr.write(`${line}\n`),
  });
  let address: string;
  try {
    address = await app.listen({ host, port });
  } catch (e) {
    await engine.close();
    throw new ColtsError("USAGE", `cannot listen on ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1" && !token) {
    io.stderr.write(`colts serve: warning: listening on ${host} without a token (set ${tokenEnv})\n`);
  }
  io.stderr.write(`colts serve: listening on ${address} (indexes: ${engine.names().join(", ")}; auth ${token ? "on" : "off"})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      signals.off("SIGTERM", stop);
      signals.off("SIGINT", stop);
      resolve();
    };
    signals.on("SIGTERM", stop);
    signals.on("SIGINT", stop);
  });
  io.stderr.write("colts serve: draining\n");
  const drained = gate.drain();
  // close() only drops connections idle at that moment; a kept-alive connection whose request
  // finishes during the drain would otherwise hold the process for the keep-alive timeout.
  const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
  await app.close();
  clearInterval(reaper);
  await drained;
  await engine.close();
  io.stderr.write("colts serve: stopped\n");
  return 0;
}
