/**
 * Worker entry for encoding: loads the model once, then encodes chunks of texts. Vectors travel
 * back as transferred buffers (no copy).
 */
import { readModelFolder } from "../model/layout.js";
import { serveWorker } from "../workers/host.js";
import { InProcessEncoder } from "./encoder.js";
import type { MultiVector } from "./multivector.js";
import type { EncoderTasks, EncoderWorkerData } from "./tasks.js";

function transferables(vs: MultiVector[]): ArrayBuffer[] {
  return vs.flatMap((v) => [v.vectors.buffer, v.tokenIds.buffer]).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

serveWorker<EncoderTasks, EncoderWorkerData>(async ({ dir, layout, runtime }) => {
  const encoder = await InProcessEncoder.create(readModelFolder(dir, layout), runtime);
  return {
    info: () => Promise.resolve({ result: { dim: encoder.dim, headInTypeScript: encoder.headInTypeScript } }),
    encodeQueries: async ({ texts, options }) => {
      const vs = await encoder.encodeQueries(texts, options);
      return { result: vs, transfer: transferables(vs) };
    },
    encodeDocuments: async ({ texts, options }) => {
      const vs = await encoder.encodeDocuments(texts, options);
      return { result: vs, transfer: transferables(vs) };
    },
  };
});
