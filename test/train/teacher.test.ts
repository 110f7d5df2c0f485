import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { isColtsError } from "../../src/errors.js";
import { writeBeir } from "../../src/eval/io.js";
import { CrossEncoder } from "../../src/encode/cross-encoder.js";
import { writeTinyCrossEncoder } from "../../src/testing/tiny-cross-encoder.js";
import { parseTrainingExample, serializeTrainingExample, type TrainingExample } from "../../src/train/format.js";
import { runLookup, scoreFromRun } from "../../src/train/teacher.js";
import { runCli } from "../helpers/cli.js";
import { readTrainingFile, readTrainingLines, resolveExamples } from "../../src/train/data.js";
import { tempDir } from "../helpers/paths.js";

const RUN = [
  "q1 Q0 d1 1 9.5 splade",
  "q1 Q0 d7 2 7.25 splade",
  "q1 Q0 d3 3 4 splade",
  "q1 Q0 d9 4 -1.5 splade",
  "q2 Q0 d2 1 3 splade",
  "q2 Q0 d8 2 2 splade",
].join("\n");

const EXAMPLES: TrainingExample[] = [
  { queryId: "q1", positiveId: "d3", negativeIds: ["d9", "d1", "d7"], scores: { other: [1, 2, 3, 4] } },
  { queryId: "q2", positiveId: "d2", negativeIds: ["d8"] },
];

function writeLines(file: string, examples: TrainingExample[]): void {
  fs.writeFileSync(file, examples.map((e) => `${serializeTrainingExample(e)}\n`).join(""));
}

function readLines(file: string): TrainingExample[] {
  return fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l, i) => parseTrainingExample(l, `${file}:${i + 1}`));
}

describe("teacher scores from a run file", () => {
  test("each score is the run's score of that document, in [positive, ...negatives] order; other teachers kept", async (t) => {
    const cwd = tempDir(t);
    fs.writeFileSync(path.join(cwd, "run.trec"), RUN);
    writeLines(path.join(cwd, "in.jsonl"), EXAMPLES);
    const r = await runCli(["teacher", "--data", "in.jsonl", "--run", "run.trec", "--name", "splade", "--output", "out.jsonl"], cwd);
    assert.equal(r.code, 0, r.stderr);
    const out = readLines(path.join(cwd, "out.jsonl"));
    assert.deepEqual(out[0]?.scores, { other: [1, 2, 3, 4], splade: [4, -1.5, 9.5, 7.25] });
    assert.deepEqual(out[1]?.scores, { splade: [3, 2] });
    // A second teacher, in place (the output replaces the input only once complete).
    const again = await runCli(["teacher", "--data", "out.jsonl", "--run", "run.trec", "--name", "again", "--output", "out.jsonl"], cwd);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(readLines(path.join(cwd, "out.jsonl"))[1]?.scores, { splade: [3, 2], again: [3, 2] });
  });

  test("missing documents: error by default (TEACHER_SCORE_MISSING), or min / drop", async (t) => {
    const cwd = tempDir(t);
    fs.writeFileSync(path.join(cwd, "run.trec"), RUN);
    const withMissing: TrainingExample[] = [...EXAMPLES, { queryId: "q2", positiveId: "d2", negativeIds: ["d8", "d5"] }, { queryId: "q3", positiveId: "d1", negativeIds: ["d2"] }];
    writeLines(path.join(cwd, "in.jsonl"), withMissing);
    const base = ["teacher", "--data", "in.jsonl", "--run", "run.trec", "--name", "splade", "--output", "out.jsonl"];
    const err = await runCli(base, cwd);
    assert.equal(err.code, 1);
    assert.match(err.stderr, /"d5" of query "q2".*TEACHER_SCORE_MISSING/);
    assert.ok(!fs.existsSync(path.join(cwd, "out.jsonl")), "nothing written on error");
    assert.equal((await runCli([...base, "--missing", "drop"], cwd)).code, 0);
    assert.deepEqual(readLines(path.join(cwd, "out.jsonl")).map((e) => e.scores?.["splade"]), [[4, -1.5, 9.5, 7.25], [3, 2]]);
    // min: d5 gets q2's lowest score (2); q3 is not in the run at all, which min cannot fill.
    const lookup = runLookup(new Map([["q2", [{ docid: "d2", score: 3 }, { docid: "d8", score: 2 }]]]));
    assert.deepEqual(scoreFromRun(withMissing[2]!, lookup, "s", "min", "x")?.scores, { s: [3, 2, 2] });
    assert.throws(() => scoreFromRun(withMissing[3]!, lookup, "s", "min", "x"), (e) => isColtsError(e, "TEACHER_SCORE_MISSING"));
    assert.throws(() => scoreFromRun({ query: "text only", positive: "p" }, lookup, "s", "error", "x"), (e) => isColtsError(e, "INPUT_INVALID"));
  });
});

describe("training JSONL inputs: the corpus reader's line rules", () => {
  test("a byte-order mark on line 1 and CRLF line ends are accepted; errors name the full path and the 1-based line", async (t) => {
    const cwd = tempDir(t);
    fs.writeFileSync(path.join(cwd, "run.trec"), RUN);
    const lines = EXAMPLES.map((e) => serializeTrainingExample(e));
    fs.writeFileSync(path.join(cwd, "bom.jsonl"), `\uFEFF${lines[0]}\r\n\r\n${lines[1]}\r\n`);
    assert.equal(readTrainingFile(path.join(cwd, "bom.jsonl")).length, 2);
    const r = await runCli(["teacher", "--data", "bom.jsonl", "--run", "run.trec", "--name", "splade", "--output", "out.jsonl"], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readLines(path.join(cwd, "out.jsonl")).map((e) => e.scores?.["splade"]), [[4, -1.5, 9.5, 7.25], [3, 2]]);

    const bad = path.join(cwd, "bad.jsonl");
    fs.writeFileSync(bad, `\uFEFF${lines[0]}\n\n{"query": 1}\n`);
    assert.throws(() => readTrainingFile(bad), (e) => isColtsError(e, "INPUT_INVALID") && e.message.startsWith(`colts: ${bad}:3: `));
    const err = await runCli(["teacher", "--data", "bad.jsonl", "--run", "run.trec", "--name", "splade", "--output", "out.jsonl"], cwd);
    assert.equal(err.code, 1);
    assert.ok(err.stderr.includes(`${bad}:3: `), err.stderr);
    // Checked before the teacher is loaded: the missing cross-encoder is not what fails.
    const first = await runCli(["teacher", "--data", "bad.jsonl", "--cross-encoder", "./no-such-model", "--name", "ce", "--output", "out.jsonl"], cwd);
    assert.equal(first.code, 1);
    assert.ok(first.stderr.includes(`${bad}:3: `), first.stderr);
  });

  test("resolving examples names each problem by file:line (too few negatives, an id without text)", (t) => {
    const file = path.join(tempDir(t), "t.jsonl");
    fs.writeFileSync(file, `{"query":"q","positive":"p","negatives":["a","b"]}\n\n{"query":"q","positive":"p","negatives":["a"]}\n{"query_id":"x","positive":"p","negatives":["a","b"]}\n`);
    const lines = readTrainingLines(file);
    const where = lines.map((l) => l.where);
    assert.throws(() => resolveExamples(lines.map((l) => l.example), null, 2, where), (e) => isColtsError(e, "INPUT_INVALID") && e.message === `colts: ${file}:3: the example has 1 negatives, fewer than 2`);
    assert.throws(() => resolveExamples([lines[0]!.example, lines[2]!.example], null, 1, [where[0]!, where[2]!]), (e) => isColtsError(e, "INPUT_INVALID") && e.message.startsWith(`colts: ${file}:4: query "x" has no text`));
  });
});

describe("teacher scores from a cross-encoder", () => {
  test("each score is the model's score of (query, that document); id-only lines get their texts from --dataset", async (t) => {
    const cwd = tempDir(t);
    // The CLI front writes the same bytes as the library function.
    assert.equal((await runCli(["model", "tiny-cross-encoder", "ce", "--seed", "5"], cwd)).code, 0);
    await writeTinyCrossEncoder(path.join(cwd, "ce-lib"), { seed: 5 });
    assert.ok(fs.readFileSync(path.join(cwd, "ce/onnx/model.onnx")).equals(fs.readFileSync(path.join(cwd, "ce-lib/onnx/model.onnx"))));
    const docs = Array.from({ length: 6 }, (_, i) => ({ id: `d${i}`, title: i % 2 ? `title ${i}` : "", text: `document number ${i} ${"word ".repeat(i * 3)}` }));
    const text = (i: number): string => (docs[i]!.title ? `${docs[i]!.title} ${docs[i]!.text}` : docs[i]!.text);
    await writeBeir(path.join(cwd, "ds"), "train", { corpus: docs, queries: [{ id: "q1", text: "first query" }, { id: "q2", text: "second one" }], qrels: new Map() });
    const texts: TrainingExample[] = [
      { queryId: "q1", query: "first query", positiveId: "d0", positive: text(0), negativeIds: ["d3", "d1", "d5"], negatives: [text(3), text(1), text(5)] },
      { queryId: "q2", query: "second one", positiveId: "d4", positive: text(4), negativeIds: ["d2"], negatives: [text(2)] },
    ];
    writeLines(path.join(cwd, "text.jsonl"), texts);
    writeLines(path.join(cwd, "ids.jsonl"), texts.map(({ queryId, positiveId, negativeIds }) => ({ queryId, positiveId, negativeIds })));
    const a = await runCli(["teacher", "--data", "text.jsonl", "--cross-encoder", "ce", "--name", "ce", "--output", "a.jsonl", "--token-budget", "40"], cwd);
    assert.equal(a.code, 0, a.stderr);
    const b = await runCli(["teacher", "--data", "ids.jsonl", "--dataset", "ds", "--cross-encoder", "ce", "--name", "ce", "--output", "b.jsonl"], cwd);
    assert.equal(b.code, 0, b.stderr);
    const ce = await CrossEncoder.load(path.join(cwd, "ce"));
    try {
      for (const file of ["a.jsonl", "b.jsonl"]) {
        const out = readLines(path.join(cwd, file));
        for (const [i, ex] of out.entries()) {
          const src = texts[i]!;
          const docsInOrder = [src.positive!, ...src.negatives!];
          const scores = ex.scores?.["ce"] ?? [];
          assert.equal(scores.length, docsInOrder.length);
          for (const [j, d] of docsInOrder.entries()) {
            const [direct] = await ce.score([{ query: src.query!, document: d }]);
            assert.ok(Math.abs(scores[j]! - direct!) < 1e-5, `${file} line ${i} doc ${j}: ${scores[j]} vs ${direct}`);
          }
        }
      }
    } finally {
      await ce.close();
    }
    const none = await runCli(["teacher", "--data", "ids.jsonl", "--cross-encoder", "ce", "--name", "ce", "--output", "c.jsonl"], cwd);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /--dataset.*INPUT_INVALID/);
  });
});
