/**
 * Checkpoint merging: several BERT or XLM-R ColBERT checkpoints of one architecture -> one checkpoint, tensor
 * by tensor (every backbone tensor, every head layer's weight and bias, every separate Matryoshka
 * head) with one method of merge-math.ts. The merged model keeps the first model's conventions and
 * tokenizer; models whose tokenizers, encoding conventions, configs, heads (separate Matryoshka heads
 * included) or tensor shapes differ are refused (MERGE_INCOMPATIBLE) rather than merged into something
 * that would encode differently from all of them. What is compared is what encodes, not how a layout
 * spells it: a fine-tuned model written by `colts train` merges with its base in any layout.
 */
import { isDeepStrictEqual } from "node:util";
import { ColtsError } from "../errors.js";
import type { DenseLayer } from "../model/layout.js";
import { headOutputDim, readColbertCheckpoint, writeColbertCheckpoint, type ColbertCheckpoint } from "../model/checkpoint.js";
import { encodingConventions, type ColbertSettings } from "../model/settings.js";
import { linearMerge, normalizeWeights, slerp, tiesMerge } from "./merge-math.js";

/** How tensors are combined: weighted mean, spherical interpolation of two models, or TIES-merging (see merge-math.ts). */
export type MergeMethod = "linear" | "slerp" | "ties";
/** Every merge method, for validating user input. */
export const MERGE_METHODS: readonly MergeMethod[] = ["linear", "slerp", "ties"];

/** Options of `mergeCheckpoints`: the method and its parameters. */
export interface MergeOptions {
  /** The merge method; slerp takes exactly two models, ties needs `base`. */
  method: MergeMethod;
  /**
   * linear: one weight per model (default equal), normalised to sum 1. ties: one weight per model
   * (default 1) scaling its task vector in the sign election and the weighted disjoint mean.
   * Ignored by slerp (use `t`).
   */
  weights?: readonly number[];
  /** slerp only: interpolation factor in [0, 1], 0 = first model, 1 = second. Default 0.5. */
  t?: number;
  /**
   * ties only: fraction of each task vector's entries kept (largest magnitudes), in (0, 1]. Default
   * 0.2 (the paper's top-20%). Lower keeps less interference and less of each model's change.
   */
  density?: number;
  /** ties only: scale of the merged task vector added to the base (the paper's lambda). Default 1. */
  lambda?: number;
  /** ties only (required): the common ancestor the task vectors are taken relative to. */
  base?: ColbertCheckpoint;
}

function incompatible(why: string, details: Record<string, unknown> = {}): never {
  throw new ColtsError("MERGE_INCOMPATIBLE", `cannot merge: ${why}`, { details });
}

/** A value for a message: JSON, cut to `max` characters; "absent" for undefined. */
function show(v: unknown, max = 80): string {
  const text = JSON.stringify(v) ?? "absent";
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * The first field in which two objects differ, with both values for a message, or null when they
 * agree (fields compared in `a`'s order, then those only `b` has).
 */
function firstDifference(a: object, b: object): { field: string; a: string; b: string } | null {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const field of new Set([...Object.keys(x), ...Object.keys(y)])) {
    if (!isDeepStrictEqual(x[field], y[field])) return { field, a: show(x[field]), b: show(y[field]) };
  }
  return null;
}

/** Where two JSON values first differ, as a path such as `model.vocab["apple"]`, with both values; null when equal. */
function jsonDifference(a: unknown, b: unknown, at = ""): { path: string; a: string; b: string } | null {
  if (isDeepStrictEqual(a, b)) return null;
  const objects = typeof a === "object" && a !== null && typeof b === "object" && b !== null;
  if (objects && Array.isArray(a) === Array.isArray(b)) {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const step = Array.isArray(a) ? `[${key}]` : /^[A-Za-z_]\w*$/.test(key) ? `${at ? "." : ""}${key}` : `[${JSON.stringify(key)}]`;
      const d = jsonDifference(x[key], y[key], at + step);
      if (d) return d;
    }
  }
  return { path: at || "(whole file)", a: show(a), b: show(b) };
}

/** A tokenizer file's content: parsed JSON for .json files (formatting and key order do not matter), else the bytes. */
function tokenizerContent(file: string, bytes: Uint8Array): unknown {
  if (!file.endsWith(".json")) return Buffer.from(bytes);
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
  } catch {
    // Not JSON after all: then only the same bytes are the same file.
    return Buffer.from(bytes);
  }
}

/**
 * Why two checkpoints' tokenizers would turn a text into different ids, or null when they agree. A
 * file both have must have the same content. A file only one has counts when colts reads it to
 * tokenize: tokenizer.json always, tokenizer_config.json (read as {} when absent), vocab.txt when
 * there is no tokenizer.json (BertJapaneseTokenizer); special_tokens_map.json and a vocab.txt next
 * to a tokenizer.json are copies other tools read, and layouts differ in whether they carry them.
 */
function tokenizerDifference(a: ReadonlyMap<string, Uint8Array>, b: ReadonlyMap<string, Uint8Array>, nameA: string, nameB: string): string | null {
  const fastTokenizer = a.has("tokenizer.json") || b.has("tokenizer.json");
  for (const file of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(file);
    const y = b.get(file);
    if (x && y) {
      const [cx, cy] = [tokenizerContent(file, x), tokenizerContent(file, y)];
      if (Buffer.isBuffer(cx) || Buffer.isBuffer(cy)) {
        if (!isDeepStrictEqual(cx, cy)) return `tokenizer file ${file} differs between ${nameA} and ${nameB}`;
      } else {
        const d = jsonDifference(cx, cy);
        if (d) return `tokenizer file ${file} differs between ${nameA} and ${nameB}: ${d.path} is ${d.a} in ${nameA} but ${d.b} in ${nameB}`;
      }
    } else if (file === "tokenizer_config.json") {
      const content = tokenizerContent(file, (x ?? y) as Uint8Array);
      if (!isDeepStrictEqual(content, {})) return `${x ? nameA : nameB} has a tokenizer_config.json, ${x ? nameB : nameA} has none`;
    } else if (file === "tokenizer.json" || (file === "vocab.txt" && !fastTokenizer)) {
      return `${x ? nameA : nameB} has a tokenizer file ${file}, ${x ? nameB : nameA} has none`;
    }
  }
  return null;
}

/**
 * Refuses checkpoints that would not encode alike but for their weight values: another BERT config,
 * tokenizer, encoding convention (compared as resolved values, see encodingConventions, so that the
 * layout a model was written in does not matter), head or tensor shape. `names` label them in messages.
 */
export function checkMergeable(ckpts: readonly ColbertCheckpoint[], names: readonly string[]): void {
  const [first, ...rest] = ckpts;
  if (!first) incompatible("no models given");
  const name0 = names[0] ?? "model 0";
  // Declared Matryoshka truncations do not change what the full dimension encodes: a model trained
  // with --matryoshka merges with its base, and the result declares every dim either declared.
  const conventions = (c: ColbertCheckpoint): ColbertSettings => ({ ...encodingConventions(c.settings, headOutputDim(c)), matryoshkaDims: [] });
  const conventions0 = conventions(first);
  rest.forEach((c, k) => {
    const name = names[k + 1] ?? `model ${k + 1}`;
    // The tokenizer first: another vocabulary also changes vocabSize, and the tokenizer says more.
    const tokenizer = tokenizerDifference(first.tokenizerFiles, c.tokenizerFiles, name0, name);
    if (tokenizer) incompatible(tokenizer, { model: name });
    const config = firstDifference(first.config, c.config);
    if (config) incompatible(`${name} has another BERT config than ${name0}: ${config.field} is ${config.b} in ${name} but ${config.a} in ${name0}`, { model: name, setting: config.field });
    for (const [tensor, t] of first.weights) {
      const u = c.weights.get(tensor);
      if (!u || u.shape.join(",") !== t.shape.join(",")) {
        incompatible(`tensor ${tensor} is [${t.shape.join(", ")}] in ${name0} but [${u?.shape.join(", ") ?? "absent"}] in ${name}`, { model: name, tensor });
      }
    }
    if (c.dense.length !== first.dense.length) incompatible(`${name0} has ${first.dense.length} head layers, ${name} has ${c.dense.length}`, { model: name });
    c.dense.forEach((layer, i) => {
      const ref = first.dense[i] as DenseLayer;
      if (!sameShape(layer, ref)) {
        incompatible(`head layer ${i} is [${layer.outFeatures}, ${layer.inFeatures}] ${layer.activation} in ${name} but [${ref.outFeatures}, ${ref.inFeatures}] ${ref.activation} in ${name0}`, { model: name, layer: i });
      }
    });
    const settings = firstDifference(conventions0, conventions(c));
    if (settings) {
      incompatible(`${name} has other encoding settings than ${name0}: ${settings.field} is ${settings.b} in ${name} but ${settings.a} in ${name0}`, { model: name, setting: settings.field });
    }
    const dims = (x: ColbertCheckpoint): string => [...x.matryoshkaHeads.keys()].sort((a, b) => a - b).join(", ");
    if (dims(c) !== dims(first)) incompatible(`${name0} has separate Matryoshka heads [${dims(first)}], ${name} has [${dims(c)}]`, { model: name });
    for (const [d, head] of c.matryoshkaHeads) {
      if (!sameShape(head, first.matryoshkaHeads.get(d) as DenseLayer)) incompatible(`Matryoshka head ${d} differs in shape between ${name0} and ${name}`, { model: name, dim: d });
    }
  });
}

function sameShape(a: DenseLayer, b: DenseLayer): boolean {
  return a.inFeatures === b.inFeatures && a.outFeatures === b.outFeatures && a.activation === b.activation && (a.bias === null) === (b.bias === null);
}

/** The per-tensor function of a method, with its options resolved and checked. */
function tensorMerger(count: number, opts: MergeOptions): (tensors: Float32Array[], base: Float32Array | undefined) => Float32Array {
  switch (opts.method) {
    case "linear": {
      const w = normalizeWeights(opts.weights ?? new Array<number>(count).fill(1));
      if (w.length !== count) throw new ColtsError("INPUT_INVALID", `${w.length} weights for ${count} models`);
      return (tensors) => linearMerge(tensors, w);
    }
    case "slerp": {
      if (count !== 2) throw new ColtsError("INPUT_INVALID", `SLERP merges exactly 2 models, got ${count}`);
      const t = opts.t ?? 0.5;
      return ([a, b]) => slerp(a as Float32Array, b as Float32Array, t);
    }
    case "ties": {
      if (!opts.base) throw new ColtsError("INPUT_INVALID", "TIES needs a base model (the common ancestor the task vectors are taken from)");
      const w = opts.weights ?? new Array<number>(count).fill(1);
      if (w.length !== count) throw new ColtsError("INPUT_INVALID", `${w.length} weights for ${count} models`);
      const density = opts.density ?? 0.2;
      return (tensors, base) => tiesMerge(base as Float32Array, tensors, w, density, opts.lambda ?? 1);
    }
  }
}

/** Merges checkpoints (see MergeOptions); the result has the first model's config, settings and tokenizer. */
export function mergeCheckpoints(ckpts: readonly ColbertCheckpoint[], opts: MergeOptions, names: readonly string[] = []): ColbertCheckpoint {
  const all = opts.base ? [...ckpts, opts.base] : [...ckpts];
  checkMergeable(all, opts.base ? [...names.slice(0, ckpts.length), "base"] : names);
  const merge = tensorMerger(ckpts.length, opts);
  const first = ckpts[0] as ColbertCheckpoint;
  const weights: ColbertCheckpoint["weights"] = new Map();
  for (const [name, t] of first.weights) {
    const data = merge(ckpts.map((c) => c.weights.get(name)?.data as Float32Array), opts.base?.weights.get(name)?.data);
    weights.set(name, { shape: [...t.shape], data });
  }
  const mergeLayer = (layers: DenseLayer[], baseLayer: DenseLayer | undefined): DenseLayer => {
    const layer = layers[0] as DenseLayer;
    const bias = layer.bias ? merge(layers.map((l) => l.bias as Float32Array), baseLayer?.bias ?? undefined) : null;
    return { ...layer, weight: merge(layers.map((l) => l.weight), baseLayer?.weight), bias, source: `merged (${opts.method})` };
  };
  const dense = first.dense.map((_, i) => mergeLayer(ckpts.map((c) => c.dense[i] as DenseLayer), opts.base?.dense[i]));
  const matryoshkaHeads = new Map(
    [...first.matryoshkaHeads.keys()].map((d) => [d, mergeLayer(ckpts.map((c) => c.matryoshkaHeads.get(d) as DenseLayer), opts.base?.matryoshkaHeads.get(d))] as const),
  );
  const matryoshkaDims = [...new Set(ckpts.flatMap((c) => c.settings.matryoshkaDims))].sort((a, b) => b - a);
  return { config: { ...first.config }, weights, dense, settings: { ...first.settings, matryoshkaDims }, tokenizerFiles: first.tokenizerFiles, matryoshkaHeads };
}

/** Reads the model folders, merges them and writes a complete loadable model at `output`. */
export async function mergeModelFolders(dirs: readonly string[], output: string, opts: Omit<MergeOptions, "base"> & { base?: string; overwrite?: boolean }): Promise<string[]> {
  if (dirs.length < 2) throw new ColtsError("USAGE", `merging needs at least 2 models, got ${dirs.length}`);
  const { base: baseDir, overwrite, ...rest } = opts;
  const ckpts = dirs.map((d) => readColbertCheckpoint(d));
  const merged = mergeCheckpoints(ckpts, { ...rest, ...(baseDir ? { base: readColbertCheckpoint(baseDir) } : {}) }, dirs);
  return writeColbertCheckpoint(output, merged, { producer: `colts merge (${opts.method})`, overwrite: overwrite ?? false });
}
