/**
 * The flags of every command that loads a ColBERT model (encode, index build/add, search, rerank,
 * eval, mine, serve), declared once here with the one function that turns them into load options,
 * so that every such command accepts and documents the same set.
 */
import type { LoadOptions } from "../encode/colbert.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { intFlag, oneOf, stringFlag, type FlagSpec, type Values } from "./args.js";
import type { CliIO } from "./io.js";
import { hubProgressPrinter } from "./progress.js";

/** Execution providers `--provider` accepts. */
export const PROVIDERS = ["cpu", "cuda"] as const;

const MODEL_GROUP = "Model flags (the same for every command that loads a ColBERT model)";

/** `--threads --workers --quantized --provider --revision --offline`, as every model-loading command declares them. */
export const MODEL_FLAGS: readonly FlagSpec[] = [
  { name: "threads", type: "string", arg: "N", default: "cores / workers", help: "onnxruntime threads per encoder worker, 1..256", group: MODEL_GROUP },
  { name: "workers", type: "string", arg: "N", default: "one per core, at most 4 (search: 1)", help: "encoder worker threads, each with its own copy of the model; 0 = on the main thread", group: MODEL_GROUP },
  { name: "quantized", type: "boolean", help: "use the model's int8 ONNX graph (model_int8.onnx, onnx/model_quantized.onnx, ...)", group: MODEL_GROUP },
  { name: "provider", type: "string", arg: "cpu|cuda", default: "cpu", help: "onnxruntime execution provider (cuda needs the CUDA add-on, see README)", group: MODEL_GROUP },
  { name: "revision", type: "string", arg: "R", default: "main", help: "branch, tag or commit of a hub model (org/name@R also works)", group: MODEL_GROUP },
  { name: "offline", type: "boolean", help: "never contact the hub, use cached files only (as HF_HUB_OFFLINE=1)", group: MODEL_GROUP },
];

/**
 * The runtime subset that applies to a cross-encoder (`colts teacher`): it is read from a local
 * folder (no hub, so no --revision / --offline), in-process (no --workers) and from its fp32 graph.
 */
export const CROSS_ENCODER_RUNTIME_FLAGS: readonly FlagSpec[] = MODEL_FLAGS.filter((f) => f.name === "threads" || f.name === "provider").map((f) => ({
  ...f,
  group: "Runtime flags (the cross-encoder)",
  ...(f.name === "threads" ? { help: "onnxruntime threads, 1..256", default: "onnxruntime's choice, one per physical core" } : {}),
}));

/** `--threads` and `--provider` as onnxruntime session options (absent flags are left out). */
export function runtimeOptions(values: Values): Pick<RuntimeOptions, "intraOpThreads" | "executionProvider"> {
  const threads = intFlag(values, "threads", 1, 256);
  const provider = oneOf(values, "provider", PROVIDERS);
  return { ...(threads !== undefined ? { intraOpThreads: threads } : {}), ...(provider ? { executionProvider: provider } : {}) };
}

/**
 * The parsed MODEL_FLAGS, validated, as options for ColBERT.load (and Searcher.open, which passes
 * them on): absent flags are left out so the library's defaults apply; the hub reads `io.env` and
 * reports downloads on stderr.
 */
export function modelLoadOptions(values: Values, io: CliIO): LoadOptions {
  const workers = intFlag(values, "workers", 0, 64);
  const { intraOpThreads, executionProvider } = runtimeOptions(values);
  const revision = stringFlag(values, "revision");
  return {
    ...(workers !== undefined ? { workers } : {}),
    ...(intraOpThreads !== undefined ? { threads: intraOpThreads } : {}),
    ...(executionProvider ? { executionProvider } : {}),
    ...(revision ? { revision } : {}),
    ...(values["quantized"] === true ? { quantized: true } : {}),
    ...(values["offline"] === true ? { localFilesOnly: true } : {}),
    env: io.env,
    onProgress: hubProgressPrinter(io.stderr),
    // A cached snapshot standing in for an unreachable hub is said on stderr, never silently.
    onWarning: (message) => void io.stderr.write(`colts: warning: ${message}\n`),
  };
}
