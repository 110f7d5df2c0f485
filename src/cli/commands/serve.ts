/**
 * `colts serve <index-dir>...`: the HTTP API and web UI over one or more indexes. Runs until
 * SIGTERM or SIGINT, then drains: stops accepting connections, lets admitted requests (writes
 * included, each atomic) finish, stops the workers, and returns 0.
 */
import path from "node:path";
import { ColtsError } from "../../errors.js";
import { intFlag, parse, stringFlag } from "../args.js";
import { modelLocation, resolvePath, type CliIO } from "../io.js";

export const SERVE_USAGE = `colts serve <[name=]index-dir>... [--host 127.0.0.1] [--port 8080] [--token-env COLTS_TOKEN]
              [--workers N] [--model M] [--cors ORIGIN] [--max-queue 128] [--timeout-ms 30000]
              [--max-batch 64] [--max-k 1000] [--max-text 8192] [--max-body 1048576] [--offline]`;

function indexArg(io: CliIO, arg: string): { name: string; dir: string } {
  const eq = arg.indexOf("=");
  const dir = resolvePath(io, eq > 0 ? arg.slice(eq + 1) : arg);
  return { name: eq > 0 ? arg.slice(0, eq) : path.basename(dir), dir };
}

export async function serveCommand(argv: string[], io: CliIO, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      host: { type: "string" },
      port: { type: "string", short: "p" },
      "token-env": { type: "string" },
      workers: { type: "string" },
      model: { type: "string", short: "m" },
      cors: { type: "string" },
      "max-queue": { type: "string" },
      "timeout-ms": { type: "string" },
      "max-batch": { type: "string" },
      "max-k": { type: "string" },
      "max-text": { type: "string" },
      "max-body": { type: "string" },
      offline: { type: "boolean" },
    },
    "colts serve",
  );
  if (positionals.length === 0) throw new ColtsError("USAGE", `colts serve: give at least one index folder\n${SERVE_USAGE}`);
  const host = stringFlag(values, "host") ?? "127.0.0.1";
  const port = intFlag(values, "port", 0, 65535) ?? 8080;
  const tokenEnv = stringFlag(values, "token-env") ?? "COLTS_TOKEN";
  const token = io.env[tokenEnv]?.trim() || null;
  const model = stringFlag(values, "model");
  const maxBatch = intFlag(values, "max-batch", 1, 10_000);
  const maxK = intFlag(values, "max-k", 1, 10_000);
  const maxText = intFlag(values, "max-text", 1, 1 << 24);
  const maxBody = intFlag(values, "max-body", 1024, 1 << 30);
  // Loaded here, not at the top: fastify's import costs ~140 ms that every other command would pay.
  const [{ Engine }, { buildServer }] = await Promise.all([import("../../server/engine.js"), import("../../server/build.js")]);
  const engine = await Engine.start({
    indexes: positionals.map((p) => indexArg(io, p)),
    ...(model ? { model: modelLocation(io, model) } : {}),
    workers: intFlag(values, "workers", 1, 64) ?? 1,
    env: io.env,
    ...(values["offline"] ? { localFilesOnly: true } : {}),
  });
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
