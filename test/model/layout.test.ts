import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chooseOnnxFile, readModelFolder } from "../../src/model/layout.js";
import { filesToFetch } from "../../src/model/resolve.js";
import { ASCII_PUNCTUATION } from "../../src/model/settings.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir, tempDir } from "../helpers/paths.js";

describe("checkpoint layouts are detected and read", () => {
  const root = suiteDir();
  const dirs: Record<string, string> = {};
  before(async () => {
    for (const layout of ["pylate", "stanford", "onnx"] as const) dirs[layout] = await tinyModel(root, { layout, queryLength: 24, documentLength: 64 });
  });

  test("PyLate: config_sentence_transformers.json + 1_Dense head, hidden-state graph in onnx/", () => {
    const spec = readModelFolder(dirs["pylate"]!);
    assert.equal(spec.layout, "pylate");
    assert.deepEqual(spec.layoutsFound, ["pylate"]);
    assert.equal(spec.settings.queryLength, 24);
    assert.equal(spec.settings.documentLength, 64);
    assert.deepEqual(spec.settings.skiplistWords, ASCII_PUNCTUATION);
    assert.equal(spec.dense.length, 1);
    assert.equal(spec.dense[0]!.inFeatures, 32);
    assert.equal(spec.dense[0]!.outFeatures, 16);
    assert.equal(path.relative(spec.dir, spec.onnxPath!), path.join("onnx", "model.onnx"));
    assert.equal(spec.hiddenSize, 32);
  });

  test("Stanford: artifact.metadata + linear.weight inside model.safetensors", () => {
    const spec = readModelFolder(dirs["stanford"]!);
    assert.equal(spec.layout, "stanford");
    assert.equal(spec.settings.queryPrefix, "[unused0]");
    assert.equal(spec.settings.documentPrefix, "[unused1]");
    assert.equal(spec.settings.queryLength, 24);
    assert.equal(spec.settings.embeddingDim, 16);
    assert.equal(spec.dense.length, 1);
    assert.equal(path.basename(spec.onnxPath!), "model.onnx");
  });

  test("ONNX export: onnx_config.json, no head in TypeScript", () => {
    const spec = readModelFolder(dirs["onnx"]!);
    assert.equal(spec.layout, "onnx");
    assert.equal(spec.settings.embeddingDim, 16);
    assert.equal(spec.dense.length, 0);
  });

  test("Stanford mask_punctuation=false empties the skiplist; attend_to_mask_tokens maps to attendToExpansionTokens", (t) => {
    const dir = path.join(tempDir(t), "m");
    fs.cpSync(dirs["stanford"]!, dir, { recursive: true });
    const metaFile = path.join(dir, "artifact.metadata");
    const meta = JSON.parse(fs.readFileSync(metaFile, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(metaFile, JSON.stringify({ ...meta, mask_punctuation: false, attend_to_mask_tokens: true }));
    const s = readModelFolder(dir).settings;
    assert.deepEqual(s.skiplistWords, []);
    assert.equal(s.attendToExpansionTokens, true);
  });

  test("precedence: onnx_config.json > PyLate > Stanford, field by field; overrides come last; layout can be forced", (t) => {
    const dir = path.join(tempDir(t), "m");
    fs.cpSync(dirs["pylate"]!, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "artifact.metadata"), JSON.stringify({ query_maxlen: 40, doc_maxlen: 100, dim: 16 }));
    let spec = readModelFolder(dir);
    assert.equal(spec.layout, "pylate");
    assert.deepEqual(spec.layoutsFound, ["stanford", "pylate"]);
    assert.equal(spec.settings.queryLength, 24, "PyLate overrides Stanford");
    assert.equal(spec.settings.embeddingDim, 16, "fields PyLate lacks come from Stanford");
    spec = readModelFolder(dir, { layout: "stanford" });
    assert.equal(spec.settings.queryLength, 40);
    spec = readModelFolder(dir, { settings: { queryLength: 12 } });
    assert.equal(spec.settings.queryLength, 12);
  });

  test("int8 graphs are found where exporters put them", () => {
    const files = ["model.onnx", "onnx/model.onnx", "onnx/model_quantized.onnx", "model_int8.onnx"];
    assert.equal(chooseOnnxFile(files, {}), "model.onnx");
    assert.equal(chooseOnnxFile(files, { quantized: true }), "model_int8.onnx");
    assert.equal(chooseOnnxFile(["onnx/model.onnx", "onnx/model_quantized.onnx"], { quantized: true }), "onnx/model_quantized.onnx");
    assert.equal(chooseOnnxFile(files, { onnxFile: "onnx/model.onnx" }), "onnx/model.onnx");
    assert.equal(chooseOnnxFile(["x.onnx"], {}), null);
  });

  test("hub downloads fetch configs, the chosen graph with its external data, and heads only", () => {
    const files = [
      "config.json", "tokenizer.json", "modules.json", "config_sentence_transformers.json", "1_Dense/config.json",
      "1_Dense/model.safetensors", "model.safetensors", "onnx/model.onnx", "onnx/model.onnx_data", "onnx/model_fp16.onnx",
      "README.md", "pytorch_model.bin",
    ];
    const want = [...filesToFetch(files, {})].sort();
    assert.deepEqual(want, ["1_Dense/config.json", "1_Dense/model.safetensors", "config.json", "config_sentence_transformers.json", "modules.json", "onnx/model.onnx", "onnx/model.onnx_data", "tokenizer.json"]);
    assert.ok(filesToFetch(["artifact.metadata", "model.safetensors", "model.onnx", "tokenizer.json"], {}).has("model.safetensors"), "Stanford head lives in model.safetensors");
  });
});

describe("bad folders are refused with a code that says why", () => {
  test("missing folder -> MODEL_NOT_FOUND", () => {
    assert.throws(() => readModelFolder("/nonexistent/colts-model"), { code: "MODEL_NOT_FOUND" });
  });

  test("no config of any layout -> LAYOUT_UNKNOWN naming the files looked for", (t) => {
    const dir = tempDir(t);
    assert.throws(() => readModelFolder(dir), (e: Error & { code?: string }) => e.code === "LAYOUT_UNKNOWN" && /onnx_config\.json/.test(e.message));
  });

  test("malformed config JSON -> CONFIG_INVALID naming the file", async (t) => {
    const dir = await tinyModel(t, { layout: "onnx" });
    fs.writeFileSync(path.join(dir, "onnx_config.json"), "{not json");
    assert.throws(() => readModelFolder(dir), (e: Error & { code?: string }) => e.code === "CONFIG_INVALID" && e.message.includes("onnx_config.json"));
  });

  test("no tokenizer.json -> TOKENIZER_INVALID", async (t) => {
    const dir = await tinyModel(t, { layout: "onnx" });
    fs.rmSync(path.join(dir, "tokenizer.json"));
    assert.throws(() => readModelFolder(dir), { code: "TOKENIZER_INVALID" });
  });

  test("a truncated Dense safetensors -> SAFETENSORS_INVALID", async (t) => {
    const dir = await tinyModel(t, { layout: "pylate" });
    const f = path.join(dir, "1_Dense", "model.safetensors");
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 200));
    assert.throws(() => readModelFolder(dir), { code: "SAFETENSORS_INVALID" });
  });
});
