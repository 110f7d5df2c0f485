/**
 * `quantizeModel`: an int8 copy of a model folder, for `quantized: true` / `--quantized`.
 *
 * The output folder holds the model's files (configs, tokenizer, Dense heads, ...) and the int8 graph
 * as `model_int8.onnx`, the first name the loader tries for an int8 graph (layout.ts ONNX_CANDIDATES),
 * so loading it with `quantized` runs int8. By default the fp32 graph and the safetensors weights are
 * copied too, so loading it without `quantized` gives exactly the original model; `int8Only` leaves
 * them out (a Stanford folder keeps model.safetensors: its projection head lives there). Int8 graphs
 * the source folder already had are not copied: the new one is the folder's only int8 graph.
 *
 * Where the int8 graph comes from:
 *   - the folder's fp32 ONNX graph (model.onnx, onnx/model.onnx), rewritten by quantize-graph.ts;
 *   - else its BERT / XLM-R model.safetensors, built as the loader would build it (convert.ts) with
 *     int8 weights; the projection head then stays in TypeScript, as it does for the fp32 graph.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { readOnnxModel } from "../runtime/onnx/read.js";
import { writeOnnxModel } from "../runtime/onnx/write.js";
import { bertOnnxFromSafetensors, findBertBackbone } from "./convert.js";
import { chooseOnnxFile, listFiles, ONNX_CANDIDATES, readModelFolder } from "./layout.js";
import { quantizeGraphInt8 } from "./quantize-graph.js";

/** Options of `quantizeModel`. */
export interface QuantizeModelOptions {
  /** Replace an existing non-empty output folder (the swap is atomic). Default false: refused with INPUT_INVALID. */
  overwrite?: boolean;
  /**
   * Leave the fp32 weights out of the output: ONNX graphs other than the int8 one (and their external
   * data), and the root model.safetensors unless the folder is a Stanford checkpoint (its head lives
   * there). Saves their size on disk; the output then loads only with `quantized`. Default false.
   */
  int8Only?: boolean;
  /** Written into the graph's producer_name. Default "colts model quantize". */
  producer?: string;
}

/** What `quantizeModel` wrote. */
export interface QuantizeModelResult {
  /** Where the weights came from: the folder's fp32 ONNX graph or its safetensors backbone. */
  source: "onnx" | "safetensors";
  /** That file, relative to the model folder. */
  sourceFile: string;
  /** The int8 graph, relative to the output folder (always "model_int8.onnx"). */
  graph: string;
  /** MatMuls that run on int8 (ONNX source) or weight MatMuls built int8 (safetensors source). */
  quantizedMatMuls: number;
  /** Gemm nodes left in float (ONNX source; see quantize-graph.ts for why). */
  gemmLeftFloat: number;
  /** Every file of the output folder, relative to it, sorted. */
  files: string[];
}

/** The name of the written int8 graph: the loader's first int8 candidate. */
export const INT8_GRAPH = ONNX_CANDIDATES.int8[0];
const INT8_EXTERNAL_DATA = `${INT8_GRAPH}_data`;

/** External data files exporters put next to `graph` (the names the hub download also fetches). */
function isExternalDataOf(file: string, graph: string): boolean {
  return file.startsWith(`${graph}_data`) || file.startsWith(`${graph}.data`) || file === `${graph.replace(/\.onnx$/, "")}.onnx_data`;
}

/** Whether `rel` (a file of the model folder) is left out of the copy. */
function leftOut(rel: string, all: readonly string[], opts: QuantizeModelOptions, stanford: boolean): boolean {
  const int8Graphs: readonly string[] = ONNX_CANDIDATES.int8;
  if (int8Graphs.includes(rel) || int8Graphs.some((g) => isExternalDataOf(rel, g))) return true;
  if (rel === INT8_EXTERNAL_DATA) return true;
  if (!opts.int8Only) return false;
  const graphs = all.filter((f) => f.endsWith(".onnx"));
  if (graphs.includes(rel) || graphs.some((g) => isExternalDataOf(rel, g))) return true;
  return rel === "model.safetensors" && !stanford;
}

/** Checks the two folders; returns the absolute output path. */
function checkFolders(modelDir: string, outDir: string, opts: QuantizeModelOptions): string {
  if (!fs.existsSync(modelDir) || !fs.statSync(modelDir).isDirectory()) {
    throw new ColtsError("MODEL_NOT_FOUND", `model folder ${modelDir} does not exist`, { details: { dir: modelDir } });
  }
  const out = path.resolve(outDir);
  const src = path.resolve(modelDir);
  if (out === src || out.startsWith(`${src}${path.sep}`)) {
    throw new ColtsError("INPUT_INVALID", `the output folder ${out} must not be the model folder or inside it`, { details: { dir: out } });
  }
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) {
    throw new ColtsError("INPUT_INVALID", `${out} exists and is a file`, { details: { dir: out } });
  }
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0 && !opts.overwrite) {
    throw new ColtsError("INPUT_INVALID", `${out} exists and is not empty (pass overwrite / --overwrite to replace it)`, { details: { dir: out } });
  }
  return out;
}

/** The int8 graph of the folder, from its fp32 graph or its safetensors backbone; MODEL_NOT_FOUND when it has neither. */
function int8Graph(dir: string, files: readonly string[], producer: string): { result: Omit<QuantizeModelResult, "graph" | "files">; write: (file: string) => Promise<unknown> } {
  const fp32 = chooseOnnxFile(files, { quantized: false });
  if (fp32) {
    const { model, externalData } = readOnnxModel(path.join(dir, fp32));
    const q = quantizeGraphInt8(model);
    const rewritten = { ...q.model, producerName: producer };
    // A model that needed external data keeps it; int8 weights are 4x smaller, but the embeddings stay float.
    const write = (file: string): Promise<unknown> => writeOnnxModel(file, rewritten, externalData ? { externalData: { fileName: INT8_EXTERNAL_DATA, minBytes: 1024 } } : {});
    return { result: { source: "onnx", sourceFile: fp32, quantizedMatMuls: q.quantized.length, gemmLeftFloat: q.gemmLeftFloat }, write };
  }
  const backbone = findBertBackbone(dir);
  if (backbone) {
    const model = bertOnnxFromSafetensors(backbone.file, backbone.config, { quantize: "int8", producer });
    const quantizedMatMuls = model.graph.nodes.filter((n) => n.opType === "MatMulInteger").length;
    return { result: { source: "safetensors", sourceFile: "model.safetensors", quantizedMatMuls, gemmLeftFloat: 0 }, write: (file) => writeOnnxModel(file, model) };
  }
  const int8 = chooseOnnxFile(files, { quantized: true });
  throw new ColtsError(
    "MODEL_NOT_FOUND",
    int8
      ? `${dir} has only an int8 graph (${int8}), nothing to quantize: load the folder with --quantized`
      : `${dir} has no fp32 ONNX graph (${ONNX_CANDIDATES.fp32.join(", ")}) and no BERT model.safetensors: nothing to quantize`,
    { details: { dir } },
  );
}

/**
 * Writes an int8 copy of the model folder `modelDir` to `outDir` (see the file comment for what it
 * holds). The folder is built beside `outDir` and renamed into place, so `outDir` is never a
 * half-written model. Throws MODEL_NOT_FOUND (no folder, nothing to quantize), INPUT_INVALID (output
 * exists and is not empty without `overwrite`, or lies inside the model folder), LAYOUT_UNKNOWN /
 * TOKENIZER_INVALID (not a ColBERT model folder) and ONNX_INVALID (a graph colts cannot rewrite).
 */
export async function quantizeModel(modelDir: string, outDir: string, opts: QuantizeModelOptions = {}): Promise<QuantizeModelResult> {
  const out = checkFolders(modelDir, outDir, opts);
  const spec = readModelFolder(modelDir); // a ColBERT folder at all, before any work
  const files = listFiles(modelDir);
  const { result, write } = int8Graph(modelDir, files, opts.producer ?? "colts model quantize");
  const stanford = spec.layoutsFound.includes("stanford");
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    const src = path.resolve(modelDir);
    fs.cpSync(src, tmp, {
      recursive: true,
      dereference: true, // hub snapshots are symlinks into the blob store
      filter: (from) => {
        const rel = path.relative(src, from).split(path.sep).join("/");
        return rel === "" || !leftOut(rel, files, opts, stanford);
      },
    });
    await write(path.join(tmp, INT8_GRAPH));
    const old = `${tmp}.old`;
    if (fs.existsSync(out)) fs.renameSync(out, old);
    fs.renameSync(tmp, out);
    fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const written = fs.readdirSync(out, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return { ...result, graph: INT8_GRAPH, files: written.map((e) => path.relative(out, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join("/")).sort() };
}
