/**
 * Turns what the user typed (`./my-model`, `org/name`, `org/name@rev`) into a local folder: a folder
 * is used as is; a hub id is downloaded into the cache (or found there when offline), fetching only
 * the files the loader reads.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { completeCachedSnapshot, isHubId, isHubNetworkError, listRepoFiles, snapshotDownload, type HubOptions } from "./hub.js";
import { chooseOnnxFile, isModelMetadataFile, type LayoutOptions } from "./layout.js";

/**
 * Splits `org/name@revision` at the last `@`; revision undefined when there is none. resolveModelDir
 * lets this revision override the `revision` option.
 */
export function parseModelId(id: string): { repo: string; revision: string | undefined } {
  const at = id.lastIndexOf("@");
  return at > 0 ? { repo: id.slice(0, at), revision: id.slice(at + 1) } : { repo: id, revision: undefined };
}

/**
 * Files of a hub repo the loader needs: configs and tokenizer, the chosen graph and its external
 * data, Dense heads, and the root model.safetensors only when it may hold the head or backbone
 * (Stanford layout without onnx_config.json, or no graph at all).
 */
export function filesToFetch(files: readonly string[], opts: LayoutOptions): Set<string> {
  const want = new Set(files.filter(isModelMetadataFile));
  const graph = chooseOnnxFile(files, opts);
  if (graph) {
    want.add(graph);
    for (const f of files) if (f.startsWith(`${graph}_data`) || f.startsWith(`${graph}.data`) || f === `${graph.replace(/\.onnx$/, "")}.onnx_data`) want.add(f);
  }
  const stanfordHead = files.includes("artifact.metadata") && !files.includes("onnx_config.json");
  if ((stanfordHead || !graph) && files.includes("model.safetensors")) want.add("model.safetensors");
  return want;
}

/**
 * The local folder of `idOrPath`: an existing folder as is (absolute), else a hub id (`org/name@rev`;
 * `@rev` overrides `opts.revision`) downloaded into the cache, only the files the loader reads for
 * `opts`' layout. Throws MODEL_NOT_FOUND for a file or for something that is neither.
 */
export async function resolveModelDir(idOrPath: string, opts: HubOptions & LayoutOptions = {}): Promise<string> {
  if (fs.existsSync(idOrPath)) {
    if (!fs.statSync(idOrPath).isDirectory()) {
      throw new ColtsError("MODEL_NOT_FOUND", `${idOrPath} is a file; pass the model folder`, { details: { path: idOrPath } });
    }
    return path.resolve(idOrPath);
  }
  const { repo, revision } = parseModelId(idOrPath);
  if (!isHubId(repo)) {
    throw new ColtsError("MODEL_NOT_FOUND", `${idOrPath} is neither an existing folder nor a hub id of the form org/name`, {
      details: { tried: [path.resolve(idOrPath)] },
    });
  }
  const hubOpts: HubOptions = { ...opts, ...(revision ? { revision } : {}) };
  if (hubOpts.localFilesOnly) return snapshotDownload(repo, { ...hubOpts, allow: () => true });
  try {
    const listing = await listRepoFiles(repo, hubOpts);
    const want = filesToFetch(listing.files, opts);
    return await snapshotDownload(repo, { ...hubOpts, allow: (f) => want.has(f) });
  } catch (e) {
    // The hub cannot be reached (down, timed out, connection lost): a complete snapshot of the same
    // revision in the cache serves, as huggingface_hub does, with a warning so that nobody mistakes
    // it for a check that the model is current. Answers of the hub (404, 401) are not covered.
    if (!isHubNetworkError(e)) throw e;
    const cached = await completeCachedSnapshot(repo, hubOpts);
    if (cached === undefined) throw e;
    const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, { code: "COLTS_HUB_FALLBACK" }));
    warn(`${(e as Error).message.replace(/^colts: /, "")} Using the cached snapshot ${cached} of "${repo}" (revision "${hubOpts.revision ?? "main"}") instead.`);
    return cached;
  }
}
