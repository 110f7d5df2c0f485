/** `colts merge A B [...] --method linear|slerp|ties --output dir`: checkpoint merging. */
import { ColtsError } from "../../errors.js";
import { MERGE_METHODS, mergeModelFolders, type MergeMethod } from "../../train/merge.js";
import { oneOf, parse, stringFlag } from "../args.js";
import { modelLocation, resolvePath, writeOut, type CliIO } from "../io.js";

export const MERGE_USAGE = `colts merge <model> <model> [...] --output <dir> [--method linear|slerp|ties]
             [--weights 0.5,0.5] [--t 0.5] [--density 0.2] [--lambda 1] [--base <model>] [--overwrite]
  Merges BERT ColBERT checkpoints (local folders) tensor by tensor into a complete model.
  linear (default): weighted average, weights normalised to sum 1 (default equal).
  slerp: 2 models, spherical interpolation with factor --t (0 = first model).
  ties: TIES-merging of task vectors relative to --base (required), keeping the top --density
        fraction of each by magnitude; --weights scale each model's task vector (default 1).`;

function numberFlag(values: Record<string, unknown>, name: string): number | undefined {
  const v = stringFlag(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new ColtsError("USAGE", `--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

export async function mergeCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      output: { type: "string", short: "o" },
      method: { type: "string" },
      weights: { type: "string" },
      t: { type: "string" },
      density: { type: "string" },
      lambda: { type: "string" },
      base: { type: "string" },
      overwrite: { type: "boolean" },
    },
    "colts merge",
  );
  const output = stringFlag(values, "output");
  if (!output || positionals.length < 2) throw new ColtsError("USAGE", `colts merge: give at least two models and --output\n${MERGE_USAGE}`);
  const method = oneOf<MergeMethod>(values, "method", MERGE_METHODS) ?? "linear";
  const rawWeights = stringFlag(values, "weights");
  const weights = rawWeights?.split(",").map((w) => {
    const n = Number(w);
    if (w.trim() === "" || !Number.isFinite(n)) throw new ColtsError("USAGE", `--weights must be comma-separated numbers, got ${rawWeights}`);
    return n;
  });
  if (weights && weights.length !== positionals.length) throw new ColtsError("USAGE", `--weights has ${weights.length} values for ${positionals.length} models`);
  const base = stringFlag(values, "base");
  if (method === "ties" && !base) throw new ColtsError("USAGE", `colts merge --method ties needs --base <model>\n${MERGE_USAGE}`);
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
