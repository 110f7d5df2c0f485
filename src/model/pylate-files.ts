/**
 * The PyLate (sentence-transformers) files of a model folder, built in one place for every writer
 * (the generated models of tiny.ts and the checkpoints of checkpoint.ts), so that what colts writes
 * is read back by layout.ts the same way whichever tool wrote it:
 *   - `config_sentence_transformers.json`: encoding conventions, `matryoshka_dims`, and
 *     `matryoshka_heads` ({"<dim>": "1_Dense_<dim>"}) when smaller dimensions have their own head;
 *   - one folder per Dense layer: `config.json` + `model.safetensors` (`linear.weight` `[out, in]`,
 *     `linear.bias` when present).
 */
import type { DenseLayer } from "./layout.js";
import { serializeSafetensors, type TensorToWrite } from "./safetensors.js";
import type { ColbertSettings } from "./settings.js";

export function json(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

/** Folder of the separate Matryoshka head of dimension `dim` (PyLate's naming). */
export function matryoshkaHeadFolder(dim: number): string {
  return `1_Dense_${dim}`;
}

/** The settings fields config_sentence_transformers.json holds. */
export type PylateConfigFields = Pick<
  ColbertSettings,
  "queryPrefix" | "documentPrefix" | "queryLength" | "documentLength" | "attendToExpansionTokens" | "skiplistWords" | "doQueryExpansion" | "matryoshkaDims"
>;

/**
 * config_sentence_transformers.json's object. `headDims`: dimensions with a separate head, declared
 * in `matryoshka_heads` (written by matryoshkaHeadFiles), in the order given.
 */
export function pylateConfig(s: PylateConfigFields, headDims: readonly number[] = []): Record<string, unknown> {
  return {
    query_prefix: s.queryPrefix ?? "",
    document_prefix: s.documentPrefix ?? "",
    query_length: s.queryLength,
    document_length: s.documentLength,
    attend_to_expansion_tokens: s.attendToExpansionTokens,
    skiplist_words: s.skiplistWords,
    do_query_expansion: s.doQueryExpansion,
    similarity_fn_name: "MaxSim",
    ...(s.matryoshkaDims.length > 0 ? { matryoshka_dims: s.matryoshkaDims } : {}),
    ...(headDims.length > 0 ? { matryoshka_heads: Object.fromEntries(headDims.map((d) => [String(d), matryoshkaHeadFolder(d)])) } : {}),
  };
}

const ACTIVATION_NAMES: Record<DenseLayer["activation"], string> = {
  identity: "torch.nn.modules.linear.Identity",
  tanh: "torch.nn.modules.activation.Tanh",
};

/** A Dense layer without the fields a writer does not need. */
export type DenseToWrite = Omit<DenseLayer, "source">;

/** `<folder>/config.json` and `<folder>/model.safetensors` of one PyLate Dense layer. */
export function denseFolderFiles(folder: string, layer: DenseToWrite): [string, string | Uint8Array][] {
  const cfg = { in_features: layer.inFeatures, out_features: layer.outFeatures, bias: layer.bias !== null, activation_function: ACTIVATION_NAMES[layer.activation] };
  const tensors: TensorToWrite[] = [{ name: "linear.weight", shape: [layer.outFeatures, layer.inFeatures], data: layer.weight }];
  if (layer.bias) tensors.push({ name: "linear.bias", shape: [layer.outFeatures], data: layer.bias });
  return [
    [`${folder}/config.json`, json(cfg)],
    [`${folder}/model.safetensors`, serializeSafetensors(tensors)],
  ];
}

/** The folders of separate Matryoshka heads, by dimension (pair with pylateConfig's headDims). */
export function matryoshkaHeadFiles(heads: ReadonlyMap<number, DenseToWrite>): [string, string | Uint8Array][] {
  return [...heads].flatMap(([d, layer]) => denseFolderFiles(matryoshkaHeadFolder(d), layer));
}
