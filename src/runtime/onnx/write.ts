/**
 * Writing ONNX models to disk. Inline models are limited to protobuf's 2 GiB; with `externalData`
 * large initializers go to a side file next to the model (the layout onnx's save_model uses:
 * data_location=EXTERNAL, external_data {location, offset, length}, offsets aligned to 4096 so the
 * runtime can mmap them). Both files are written to a temp name in the same folder and renamed, so a
 * reader never sees a half-written model.
 */
import path from "node:path";
import { ColtsError } from "../../errors.js";
import { sequentialChunks, writeChunksAtomic } from "../../store/atomic.js";
import { encodeModelChunks, tensorBytes, type OnnxModel, type OnnxTensor } from "./proto.js";

export interface WriteOnnxOptions {
  /** Put every initializer of at least `minBytes` bytes into `fileName` (a plain file name, same folder). */
  externalData?: { fileName: string; minBytes: number };
}

export interface WriteOnnxResult {
  /** Size of the .onnx file. */
  modelBytes: number;
  /** Size of the external data file (0 when none was written). */
  externalBytes: number;
  /** Where each externalised initializer went. */
  external: { name: string; offset: number; length: number }[];
}

/** Offsets of external tensors are multiples of this (onnx aligns to the allocation granularity). */
const EXTERNAL_ALIGN = 4096;

/**
 * Writes `model` to `file` (the model object is not modified). With `externalData`, initializers of at
 * least `minBytes` are stored in `<dir of file>/<fileName>` and referenced from the model. Tensor
 * data is written from the model's arrays without copying: do not change them until this settles.
 */
export async function writeOnnxModel(file: string, model: OnnxModel, options: WriteOnnxOptions = {}): Promise<WriteOnnxResult> {
  const ext = options.externalData;
  if (!ext) {
    const modelBytes = await writeChunksAtomic(file, sequentialChunks(encodeModelChunks(model)));
    return { modelBytes, externalBytes: 0, external: [] };
  }
  if (!ext.fileName || ext.fileName !== path.basename(ext.fileName) || ext.fileName === "." || ext.fileName === "..") {
    throw new ColtsError("INPUT_INVALID", `external data file name must be a plain file name, got "${ext.fileName}"`);
  }
  if (path.resolve(path.dirname(file), ext.fileName) === path.resolve(file)) {
    throw new ColtsError("INPUT_INVALID", `external data file cannot be the model file itself (${ext.fileName})`);
  }
  const placed: { offset: number; bytes: Uint8Array }[] = [];
  const external: WriteOnnxResult["external"] = [];
  let end = 0;
  const initializers = model.graph.initializers.map((t): OnnxTensor => {
    if (!t.data || t.data.byteLength < ext.minBytes) return t;
    const offset = Math.ceil(end / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    const bytes = tensorBytes(t.data);
    placed.push({ offset, bytes });
    external.push({ name: t.name, offset, length: bytes.length });
    end = offset + bytes.length;
    return { name: t.name, dataType: t.dataType, dims: t.dims, external: { location: ext.fileName, offset, length: bytes.length } };
  });
  const slim: OnnxModel = { ...model, graph: { ...model.graph, initializers } };
  // Data first: a model file never points at a data file that is not there yet.
  const externalBytes = placed.length > 0 ? await writeChunksAtomic(path.join(path.dirname(file), ext.fileName), placed) : 0;
  const modelBytes = await writeChunksAtomic(file, sequentialChunks(encodeModelChunks(slim)));
  return { modelBytes, externalBytes, external };
}
