/**
 * Worker entry for encoding: loads the model once, then encodes chunks of texts. Vectors travel
 * back as transferred buffers (no copy).
 */
import { readModelFolder, type LayoutOptions } from "../model/layout.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { serveWorker } from "../workers/host.js";
import { InProcessEncoder, type EncodeOptions } from "./encoder.js";
import type { MultiVector } from "./multivector.js";

export interface EncoderWorkerData {
  dir: string;
  layout: LayoutOptions;
  runtime: RuntimeOptions;
}

export interface EncodeTask {
  texts: string[];
  options: EncodeOptions;
}

function transferables(vs: MultiVector[]): ArrayBuffer[] {
  return vs.flatMap((v) => [v.vectors.buffer, v.tokenIds.buffer]).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

serveWorker(async (data) => {
  const { dir, layout, runtime } = data as EncoderWorkerData;
  const encoder = await InProcessEncoder.create(readModelFolder(dir, layout), runtime);
  return {
    info: () => Promise.resolve({ result: { dim: encoder.dim, headInTypeScript: encoder.headInTypeScript } }),
    encodeQueries: async (p) => {
      const { texts, options } = p as EncodeTask;
      const vs = await encoder.encodeQueries(texts, options);
      return { result: vs, transfer: transferables(vs) };
    },
    encodeDocuments: async (p) => {
      const { texts, options } = p as EncodeTask;
      const vs = await encoder.encodeDocuments(texts, options);
      return { result: vs, transfer: transferables(vs) };
    },
  };
});
