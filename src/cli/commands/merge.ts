/** `colts merge A B [...] --method linear|slerp|ties --output dir`: checkpoint merging. */
import { ColtsError } from "../../errors.js";
import { MERGE_METHODS, mergeModelFolders, type MergeMethod } from "../../train/merge.js";
import { numberFlag, oneOf, parse, stringFlag, usageError, type CommandSpec } from "../args.js";
import { modelLocation, resolvePath, writeOut, type CliIO } from "../io.js";

/** `colts merge`: its flags and help page, the one declaration that parsing and `--help` read. */
export const MERGE_SPEC: CommandSpec = {
  name: "merge",
  summary: "merge BERT or XLM-R ColBERT checkpoints (linear, slerp, ties) into a complete model",
  usage: ["<model> <model> [...] --output <dir>"],
  description: `Merges BERT or XLM-R ColBERT checkpoints (local folders) tensor by tensor into a complete model.
  linear (default): weighted average, weights normalised to sum 1.
  slerp: 2 models, spherical interpolation with factor --t (0 = first model).
  ties: TIES-merging of task vectors relative to --base (required), keeping the top --density
        fraction of each by magnitude; --weights scale each model's task vector.
A flag of another method than the chosen one is refused.`,
  flags: [
    { name: "output", short: "o", type: "string", arg: "DIR", help: "folder of the merged model (required)" },
    { name: "method", type: "string", arg: MERGE_METHODS.join("|"), default: "linear", help: "how the models are combined" },
    { name: "weights", type: "string", arg: "a,b,...", default: "equal (linear), 1 each (ties)", help: "one weight per model (linear, ties)" },
    { name: "t", type: "string", arg: "X", default: "0.5", help: "slerp interpolation factor in [0, 1]" },
    { name: "density", type: "string", arg: "X", default: "0.2", help: "ties: fraction of each task vector kept, in (0, 1]" },
    { name: "lambda", type: "string", arg: "X", default: "1", help: "ties: scale of the merged task vector" },
    { name: "base", type: "string", arg: "M", help: "ties: the common ancestor model (required for ties)" },
    { name: "overwrite", type: "boolean", help: "replace an existing --output folder" },
  ],
  example: "colts merge run-a run-b --method linear --weights 0.7,0.3 --output merged",
};

export async function mergeCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, MERGE_SPEC);
  const output = stringFlag(values, "output");
  if (!output || positionals.length < 2) throw usageError(MERGE_SPEC, "give at least two models and --output");
  const method = oneOf<MergeMethod>(values, "method", MERGE_METHODS) ?? "linear";
  const rawWeights = stringFlag(values, "weights");
  const weights = rawWeights?.split(",").map((w) => {
    const n = Number(w);
    if (w.trim() === "" || !Number.isFinite(n)) throw new ColtsError("USAGE", `--weights must be comma-separated numbers, got ${rawWeights}`);
    return n;
  });
  if (weights && weights.length !== positionals.length) throw new ColtsError("USAGE", `--weights has ${weights.length} values for ${positionals.length} models`);
  const base = stringFlag(values, "base");
  if (method === "ties" && !base) throw usageError(MERGE_SPEC, "--method ties needs --base <model>");
  const t = numberFlag(values, "t");
  const density = numberFlag(values, "density");
  const lambda = numberFlag(values, "lambda");
  // An option another method would use is refused rather than silently ignored.
  const onlyFor: [string, unknown, MergeMethod[]][] = [
    ["weights", weights, ["linear", "ties"]],
    ["t", t, ["slerp"]],
    ["density", density, ["ties"]],
    ["lambda", lambda, ["ties"]],
    ["base", base, ["ties"]],
  ];
  for (const [flag, value, methods] of onlyFor) {
    if (value !== undefined && !methods.includes(method)) throw new ColtsError("USAGE", `--${flag} does not apply to --method ${method} (only ${methods.join(", ")})`);
  }
  const target = resolvePath(io, output);
  const files = await mergeModelFolders(positionals.map((m) => modelLocation(io, m)), target, {
    method,
    ...(weights ? { weights } : {}),
    ...(t !== undefined ? { t } : {}),
    ...(density !== undefined ? { density } : {}),
    ...(lambda !== undefined ? { lambda } : {}),
    ...(base ? { base: modelLocation(io, base) } : {}),
    overwrite: values["overwrite"] === true,
  });
  await writeOut(io.stdout, `merged ${positionals.length} models (${method}) into ${target}: ${files.length} files\n`);
  return 0;
}
