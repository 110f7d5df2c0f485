import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ColBERT } from "../../src/encode/colbert.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readTrainingFile, resolveExamples } from "../../src/train/data.js";
import { serializeTrainingExample } from "../../src/train/format.js";
import { train } from "../../src/train/loop.js";
import { runCli } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { tempDir } from "../helpers/paths.js";

const CORPUS = [
  { _id: "d1", title: "", text: "apples grow on trees" },
  { _id: "d2", title: "", text: "rivers flow to the sea" },
  { _id: "d3", title: "", text: "castles have towers" },
  { _id: "d4", title: "", text: "engines burn fuel" },
];
const QUERIES = [
  { _id: "q1", text: "where do apples grow" },
  { _id: "q2", text: "where do rivers go" },
];

function writeBeir(dir: string): void {
  fs.mkdirSync(path.join(dir, "qrels"), { recursive: true });
  fs.writeFileSync(path.join(dir, "corpus.jsonl"), CORPUS.map((d) => JSON.stringify(d)).join("\n"));
  fs.writeFileSync(path.join(dir, "queries.jsonl"), QUERIES.map((q) => JSON.stringify(q)).join("\n"));
  fs.writeFileSync(path.join(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
}

describe("colts train", () => {
  it("trains from id-form data, evaluates, writes log + charts, and exports a model that loads and indexes", async (t) => {
    const cwd = tempDir(t);
    const model = await tinyModel(cwd, { hidden: 16, heads: 2, dim: 8, layers: 1, queryLength: 8, documentLength: 16 });
    writeBeir(path.join(cwd, "beir"));
    const lines = [
      serializeTrainingExample({ queryId: "q1", positiveId: "d1", negativeIds: ["d3", "d4"], scores: { x: [3, 1, 0] } }),
      serializeTrainingExample({ queryId: "q2", positiveId: "d2", negativeIds: ["d4", "d3"], scores: { x: [2, 0, 1] } }),
    ];
    fs.writeFileSync(path.join(cwd, "triples.jsonl"), `${lines.join("\n")}\n`);
    const r = await runCli(["train", "--model", model, "--data", "triples.jsonl", "--dataset", "beir", "--loss", "kl", "--steps", "3", "--batch-size", "2",
      "--lr", "1e-3", "--matryoshka", "8,4", "--eval-dataset", "beir", "--eval-every", "2", "--output", "run"], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /trained 3 steps/);
    assert.match(r.stdout, /step 0 ndcg_cut_10=/);
    for (const f of ["metrics.jsonl", "loss.svg", "eval.svg", "state/state.json", "model/model.safetensors", "model/onnx/model.onnx"]) {
      assert.ok(fs.existsSync(path.join(cwd, "run", f)), f);
    }
    const cfg = JSON.parse(fs.readFileSync(path.join(cwd, "run/model/config_sentence_transformers.json"), "utf8")) as { matryoshka_dims?: number[] };
    assert.deepEqual(cfg.matryoshka_dims, [8, 4]);
    const colbert = await ColBERT.load(path.join(cwd, "run/model"));
    const [q] = await colbert.encodeQueries(["apples"]);
    assert.equal(q?.dim, 8);
    await colbert.close();
    fs.writeFileSync(path.join(cwd, "docs.jsonl"), CORPUS.map((d) => JSON.stringify({ id: d._id, text: d.text })).join("\n"));
    const b = await runCli(["index", "build", "idx", "--model", "run/model", "--input", "docs.jsonl"], cwd);
    assert.equal(b.code, 0, b.stderr);
  });

  it("refuses bad usage and unresolvable ids with clear errors", async (t) => {
    const cwd = tempDir(t);
    const model = await tinyModel(cwd, { hidden: 16, heads: 2, dim: 8, layers: 1 });
    assert.equal((await runCli(["train", "--model", model], cwd)).code, 2);
    const negative = await runCli(["train", "--model", model, "--data", "t.jsonl", "--output", "o", "--activation-memory", "-1"], cwd);
    assert.equal(negative.code, 2);
    assert.match(negative.stderr, /--activation-memory/);
    fs.writeFileSync(path.join(cwd, "t.jsonl"), `${serializeTrainingExample({ queryId: "q1", positiveId: "d1", negativeIds: ["d2"] })}\n`);
    const r = await runCli(["train", "--model", model, "--data", "t.jsonl", "--output", "o", "--steps", "1"], cwd);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pass --dataset/);
  });

  it("runs its steps on a worker thread with the in-process result, across an interruption and --resume", async (t) => {
    const cwd = tempDir(t);
    const model = await tinyModel(cwd, { hidden: 16, heads: 2, dim: 8, layers: 1, queryLength: 8, documentLength: 16, matryoshkaDims: [8, 4], matryoshkaHeads: true });
    const texts = [
      { query: "where do apples grow", positive: "apples grow on trees", negatives: ["castles have towers", "engines burn fuel"] },
      { query: "where do rivers go", positive: "rivers flow to the sea", negatives: ["engines burn fuel", "castles have towers"] },
      { query: "what burns fuel", positive: "engines burn fuel", negatives: ["rivers flow to the sea", "apples grow on trees"] },
    ];
    fs.writeFileSync(path.join(cwd, "t.jsonl"), texts.map((x) => JSON.stringify(x)).join("\n"));
    const flags = ["--model", model, "--data", "t.jsonl", "--loss", "contrastive", "--steps", "4", "--batch-size", "2", "--lr", "1e-3", "--seed", "5", "--matryoshka", "8,4", "--output", "run"];
    const first = await runCli(["train", ...flags, "--stop-after", "2"], cwd);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /trained 2 steps \(stopped early/);
    const second = await runCli(["train", ...flags, "--resume"], cwd);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /trained 4 steps/);
    const examples = resolveExamples(readTrainingFile(path.join(cwd, "t.jsonl")), null);
    const whole = await train({ model, output: tempDir(t), examples, loss: "contrastive", steps: 4, batchSize: 2, lr: 1e-3, seed: 5, matryoshkaDims: [8, 4], exportModel: false });
    const exported = readColbertCheckpoint(path.join(cwd, "run/model"));
    for (const [name, w] of whole.weights.weights) assert.deepEqual(exported.weights.get(name)?.data, w.data, name);
    assert.deepEqual(exported.dense[0]?.weight, whole.weights.dense[0]?.weight);
    assert.deepEqual(exported.matryoshkaHeads.get(4)?.weight, whole.weights.matryoshkaHeads.get(4)?.weight);
  });
});
