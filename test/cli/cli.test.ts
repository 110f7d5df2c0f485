/** The CLI in-process: runMain(argv, io) with captured streams, each test in its own temp dir. */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { runCli, type CliRun } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir, tempDir } from "../helpers/paths.js";

function run(argv: string[], opts: { cwd: string; stdin?: string }): Promise<CliRun> {
  return runCli(argv, opts.cwd, opts.stdin ?? "");
}

interface Line {
  id: string;
  tokens: string[];
  vectors: number[][];
}

describe("colts encode", () => {
  const root = suiteDir();
  let model = "";
  before(async () => {
    model = await tinyModel(root, { layout: "onnx" });
  });

  test("JSONL and plain-text lines from stdin -> one JSON line per text with tokens and vectors", async (t) => {
    const stdin = '{"id": "d1", "text": "Paris is the capital of France."}\n\nsecond text, plain\n{"_id": 7, "title": "T", "text": "body"}\n';
    const r = await run(["encode", "--model", model, "--documents"], { cwd: tempDir(t), stdin });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Line);
    assert.deepEqual(lines.map((l) => l.id), ["d1", "1", "7"]);
    assert.deepEqual(lines[0]!.tokens, ["[CLS]", "[unused1]", "paris", "is", "the", "capital", "of", "france", "[SEP]"]);
    assert.equal(lines[0]!.vectors.length, lines[0]!.tokens.length);
    assert.equal(lines[0]!.vectors[0]!.length, 16);
    assert.deepEqual(lines[2]!.tokens, ["[CLS]", "[unused1]", "t", "body", "[SEP]"], "title prepended");
  });

  test("--queries --dim 8 --input file --output file", async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, "q.txt"), "what is the capital of france\n");
    const r = await run(["encode", "-m", model, "--queries", "--input", "q.txt", "--output", "out.jsonl", "--dim", "8"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const line = JSON.parse(fs.readFileSync(path.join(dir, "out.jsonl"), "utf8")) as Line;
    assert.equal(line.vectors.length, 32);
    assert.equal(line.vectors[0]!.length, 8);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["out.jsonl", "q.txt"], "no temporary file left");
  });

  test("bad input: clear error, non-zero exit, no partial output file", async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, "bad.jsonl"), '{"id": 1, "text": "ok"}\n{"id": 2, "txt": "typo"}\n');
    const r = await run(["encode", "-m", model, "--documents", "-i", "bad.jsonl", "-o", "out.jsonl"], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.jsonl:2: expected "text" to be a string, found none \[INPUT_INVALID\]/);
    assert.deepEqual(fs.readdirSync(dir), ["bad.jsonl"]);
    // The file is checked before the model loads: its error wins over a model that does not exist.
    const early = await run(["encode", "-m", "no-such-model-folder/x", "--documents", "-i", "bad.jsonl"], { cwd: dir });
    assert.equal(early.code, 1);
    assert.match(early.stderr, /bad\.jsonl:2: .*\[INPUT_INVALID\]/);
    const broken = await run(["encode", "-m", model, "--documents"], { cwd: dir, stdin: "{not json\n" });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /<stdin>:1: invalid JSON/);
    const dup = await run(["encode", "-m", model, "--documents"], { cwd: dir, stdin: '{"id":"a","text":"x"}\nplain\n{"_id":"a","text":"y"}\n' });
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /<stdin>:3: duplicate _id "a" \(first at <stdin>:1\)/);
  });

  test("usage errors exit 2 and say what is wrong", async (t) => {
    const cwd = tempDir(t);
    const cases: [string[], RegExp][] = [
      [["encode", "--documents"], /--model is required/],
      [["encode", "-m", model], /exactly one of --queries or --documents/],
      [["encode", "-m", model, "--queries", "--documents"], /exactly one of/],
      [["encode", "-m", model, "--queries", "--dim", "abc"], /--dim must be an integer/],
      [["encode", "-m", model, "--queries", "--bogus"], /unknown option --bogus; see colts help encode/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv, { cwd });
      assert.equal(r.code, 2, argv.join(" "));
      assert.match(r.stderr, message);
    }
  });

  test("a missing model is a runtime error naming it", async (t) => {
    const r = await run(["encode", "-m", "./nope", "--queries"], { cwd: tempDir(t), stdin: "x\n" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /MODEL_NOT_FOUND/);
  });

  test("--dim larger than the model's is DIM_UNSUPPORTED", async (t) => {
    const r = await run(["encode", "-m", model, "--queries", "--dim", "64"], { cwd: tempDir(t), stdin: "x\n" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DIM_UNSUPPORTED/);
  });
});

describe("colts model quantize", () => {
  test("quantize a generated model, then encode --quantized runs its int8 graph (close to fp32, not equal)", async (t) => {
    const cwd = tempDir(t);
    assert.equal((await run(["model", "tiny", "m", "--hidden", "32", "--layers", "1", "--dim", "8"], { cwd })).code, 0);
    const q = await run(["model", "quantize", "m", "q"], { cwd });
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /model_int8\.onnx: 6 MatMuls int8 \(from the fp32 graph onnx\/model\.onnx\)/);
    const encode = async (quantized: boolean): Promise<number[]> => {
      const r = await run(["encode", "-m", "q", "--queries", "--workers", "0", ...(quantized ? ["--quantized"] : [])], { cwd, stdin: "int8 retrieval\n" });
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as Line).vectors[2]!;
    };
    const int8 = await encode(true);
    const fp32 = await encode(false);
    const original = await run(["encode", "-m", "m", "--queries", "--workers", "0"], { cwd, stdin: "int8 retrieval\n" });
    assert.deepEqual((JSON.parse(original.stdout) as Line).vectors[2], fp32, "without --quantized the copy is the original model");
    const cosine = int8.reduce((a, v, i) => a + v * fp32[i]!, 0);
    assert.ok(cosine > 0.99, `cosine ${cosine}`);
    // Not equal: the int8 graph ran. How close it comes depends on the CPU's integer kernels (with
    // AVX512-VNNI the cosine measured 1 - 3.5e-8, with AVX2 alone further from 1), so the test asks
    // for a difference above float32 rounding rather than for a cosine bound.
    const diff = Math.max(...int8.map((v, i) => Math.abs(v - fp32[i]!)));
    assert.ok(diff > 1e-6, `max |int8 - fp32| ${diff}`);
  });

  test("errors: missing model, existing output (then --overwrite), wrong arguments", async (t) => {
    const cwd = tempDir(t);
    const missing = await run(["model", "quantize", "./no/such/model", "q"], { cwd });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /MODEL_NOT_FOUND/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");
    assert.equal((await run(["model", "tiny", "m", "--layout", "onnx", "--hidden", "32", "--layers", "1", "--dim", "8"], { cwd })).code, 0);
    assert.equal((await run(["model", "quantize", "m", "q"], { cwd })).code, 0);
    const again = await run(["model", "quantize", "m", "q"], { cwd });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /INPUT_INVALID.*|exists and is not empty/);
    assert.equal((await run(["model", "quantize", "m", "q", "--overwrite", "--int8-only"], { cwd })).code, 0);
    assert.ok(!fs.existsSync(path.join(cwd, "q", "model.onnx")));
    assert.equal((await run(["model", "quantize", "m"], { cwd })).code, 2);
  });
});

describe("colts model tiny", () => {
  test("same seed -> same bytes; different seed -> different weights", async (t) => {
    const cwd = tempDir(t);
    for (const d of ["a", "b", "c"]) {
      const seed = d === "c" ? "2" : "1";
      const r = await run(["model", "tiny", d, "--layout", "stanford", "--hidden", "32", "--layers", "1", "--dim", "8", "--seed", seed], { cwd });
      assert.equal(r.code, 0, r.stderr);
    }
    const files = fs.readdirSync(path.join(cwd, "a")).sort();
    assert.deepEqual(files, ["artifact.metadata", "config.json", "model.onnx", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]);
    for (const f of files) assert.ok(fs.readFileSync(path.join(cwd, "a", f)).equals(fs.readFileSync(path.join(cwd, "b", f))), f);
    assert.ok(!fs.readFileSync(path.join(cwd, "a", "model.onnx")).equals(fs.readFileSync(path.join(cwd, "c", "model.onnx"))));
  });

  test("each layout loads and encodes through the CLI", async (t) => {
    const cwd = tempDir(t);
    for (const layout of ["pylate", "stanford", "onnx"]) {
      assert.equal((await run(["model", "tiny", layout, "--layout", layout, "--hidden", "32", "--layers", "1", "--dim", "8"], { cwd })).code, 0);
      const r = await run(["encode", "-m", layout, "--queries", "--workers", "0"], { cwd, stdin: "hello\n" });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as Line).vectors[0]!.length, 8);
    }
  });

  test("bad options are usage errors", async (t) => {
    const cwd = tempDir(t);
    assert.equal((await run(["model", "tiny", "x", "--layout", "keras"], { cwd })).code, 2);
    assert.equal((await run(["model", "tiny"], { cwd })).code, 2);
    assert.equal((await run(["model", "huge", "x"], { cwd })).code, 2);
  });
});
