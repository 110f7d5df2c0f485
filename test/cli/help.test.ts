/**
 * Help and flags: every command's page (`--help`, `-h`, `colts help <command>`), suggestions for
 * unknown flags, and the model flags every model-loading command shares, run with a tiny model.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { CommandSpec } from "../../src/cli/args.js";
import { closestNames, editDistance } from "../../src/cli/args.js";
import { ENCODE_SPEC } from "../../src/cli/commands/encode.js";
import { EVAL_SPEC } from "../../src/cli/commands/eval.js";
import { INDEX_COMMANDS } from "../../src/cli/commands/index-cmd.js";
import { MCP_SPEC } from "../../src/cli/commands/mcp.js";
import { MERGE_SPEC } from "../../src/cli/commands/merge.js";
import { MINE_SPEC } from "../../src/cli/commands/mine.js";
import { MODEL_COMMANDS } from "../../src/cli/commands/model.js";
import { RERANK_SPEC, SEARCH_SPEC } from "../../src/cli/commands/search.js";
import { SERVE_SPEC } from "../../src/cli/commands/serve.js";
import { TEACHER_SPEC } from "../../src/cli/commands/teacher.js";
import { TRAIN_SPEC } from "../../src/cli/commands/train.js";
import { writeBeir } from "../../src/eval/io.js";
import { runCli } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir } from "../helpers/paths.js";
import { spawnServe } from "../helpers/server.js";

const spec = (s: CommandSpec | undefined): CommandSpec => {
  assert.ok(s);
  return s;
};

/** Every command by the words that name it. Adding a command without listing it here fails the global-page test. */
const COMMANDS: [string[], CommandSpec][] = [
  [["encode"], ENCODE_SPEC],
  [["index", "build"], spec(INDEX_COMMANDS["build"]?.spec)],
  [["index", "add"], spec(INDEX_COMMANDS["add"]?.spec)],
  [["index", "delete"], spec(INDEX_COMMANDS["delete"]?.spec)],
  [["index", "compact"], spec(INDEX_COMMANDS["compact"]?.spec)],
  [["index", "info"], spec(INDEX_COMMANDS["info"]?.spec)],
  [["index", "upgrade"], spec(INDEX_COMMANDS["upgrade"]?.spec)],
  [["search"], SEARCH_SPEC],
  [["rerank"], RERANK_SPEC],
  [["eval"], EVAL_SPEC],
  [["mine"], MINE_SPEC],
  [["teacher"], TEACHER_SPEC],
  [["train"], TRAIN_SPEC],
  [["merge"], MERGE_SPEC],
  [["model", "tiny"], spec(MODEL_COMMANDS["tiny"]?.spec)],
  [["model", "tiny-cross-encoder"], spec(MODEL_COMMANDS["tiny-cross-encoder"]?.spec)],
  [["model", "quantize"], spec(MODEL_COMMANDS["quantize"]?.spec)],
  [["serve"], SERVE_SPEC],
  [["mcp"], MCP_SPEC],
];

const MODEL_FLAGS = ["threads", "workers", "quantized", "provider", "revision", "offline"];
/** The commands that load a ColBERT model: they all take MODEL_FLAGS. */
const MODEL_LOADING = ["encode", "index build", "index add", "search", "rerank", "eval", "mine", "serve", "mcp"];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The long flags listed on a help page (lines `  -k, --k N  ...` or `      --json  ...`). */
function listedFlags(page: string): string[] {
  return [...page.matchAll(/^ {2}(?:-\w, | {4})--([\w-]+)/gm)].map((m) => m[1] as string);
}

describe("colts help", () => {
  const cwd = suiteDir();

  test("colts --help: one line per command and a pointer to colts help <command>; no arguments is a usage error", async () => {
    const r = await runCli(["--help"], cwd);
    assert.equal(r.code, 0);
    for (const [words, s] of COMMANDS) assert.match(r.stdout, new RegExp(`^ {2}${words.join(" ")} +${escape(s.summary)}$`, "m"), words.join(" "));
    const listed = r.stdout.split("\n").filter((l) => /^ {2}[a-z]/.test(l)).map((l) => l.trim().split(/ {2,}/)[0]);
    assert.deepEqual(listed, [...COMMANDS.map(([w]) => w.join(" ")), "help <command>"], "the page lists exactly these commands");
    assert.match(r.stdout, /colts help <command>/);
    assert.equal((await runCli(["help"], cwd)).stdout, r.stdout);
    assert.equal((await runCli(["-h"], cwd)).code, 0);
    const none = await runCli([], cwd);
    assert.equal(none.code, 2);
    assert.equal(none.stdout, r.stdout);
  });

  for (const [words, s] of COMMANDS) {
    const name = words.join(" ");
    test(`colts ${name}: --help, -h and colts help ${name} print every flag with its default and an example`, async () => {
      const page = await runCli([...words, "--help"], cwd);
      assert.equal(page.code, 0, page.stderr);
      assert.equal(page.stderr, "");
      assert.ok(page.stdout.startsWith(`Usage: colts ${name} `), page.stdout);
      assert.match(page.stdout, new RegExp(`\\nExample:\\n {2}(\\S+=\\S+ )?colts ${name} `));
      for (const other of [[...words, "-h"], ["help", ...words], ["help", ...words, "--help"]]) {
        const r = await runCli(other, cwd);
        assert.equal(r.code, 0, other.join(" "));
        assert.equal(r.stdout, page.stdout, other.join(" "));
      }
      assert.deepEqual(listedFlags(page.stdout).sort(), s.flags.map((f) => f.name).sort(), "each declared flag once");
      for (const f of s.flags) {
        const line = page.stdout.split("\n").find((l) => new RegExp(`^ {2}(-\\w, | {4})--${escape(f.name)}( |$)`).test(l));
        assert.ok(line, f.name);
        if (f.short) assert.ok(line.startsWith(`  -${f.short}, --${f.name}`), line);
        const text = page.stdout.slice(page.stdout.indexOf(line), page.stdout.indexOf(line) + line.length + 200);
        assert.ok(text.includes(f.help), `${f.name}: its meaning`);
        if (f.default !== undefined) assert.ok(text.includes(`(default: ${f.default})`), `${f.name}: its default`);
      }
      const model = listedFlags(page.stdout).filter((f) => MODEL_FLAGS.includes(f));
      // teacher runs a local cross-encoder; model quantize reads (or downloads) a model without running it.
      const expected = MODEL_LOADING.includes(name) ? MODEL_FLAGS : name === "teacher" ? ["threads", "provider"] : name === "model quantize" ? ["revision", "offline"] : [];
      assert.deepEqual(model.sort(), [...expected].sort(), "model flags");
      if (MODEL_LOADING.includes(name)) assert.match(page.stdout, /\nModel flags \(the same for every command that loads a ColBERT model\):\n {6}--threads N/);
    });

    test(`colts ${name}: every listed flag parses; an unknown one names the closest`, async () => {
      for (const f of s.flags) {
        // With no other arguments each command stops at a missing argument, never at the flag.
        const r = await runCli([...words, `--${f.name}`, ...(f.type === "string" ? ["1"] : [])], cwd);
        assert.doesNotMatch(r.stderr, /unknown option/i, `--${f.name}`);
      }
      const flag = s.flags.find((f) => f.name.length >= 4) ?? s.flags[0];
      assert.ok(flag);
      const typo = `--${flag.name}x`;
      const r = await runCli([...words, typo, "1"], cwd);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`colts ${name}: unknown option ${typo} \\(did you mean [^)]*--${flag.name}[,?]`));
      assert.match(r.stderr, /\[USAGE\]/);
      const far = await runCli([...words, "--zzqqzz"], cwd);
      assert.equal(far.code, 2);
      assert.match(far.stderr, new RegExp(`unknown option --zzqqzz; see colts help ${name} \\[USAGE\\]`));
    });
  }

  test("--topk names -k / --k; typos of commands and sub-commands are named too", async () => {
    const r = await runCli(["search", "idx", "q", "--topk", "5"], cwd);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^colts search: unknown option --topk \(did you mean -k \/ --k\?\) \[USAGE\]$/m);
    assert.match((await runCli(["encode", "--batch_size", "3"], cwd)).stderr, /did you mean --batch-size\?/);
    assert.match((await runCli(["search", "idx", "q", "-K", "3"], cwd)).stderr, /did you mean -k \/ --k\?/);
    const cmd = await runCli(["serach"], cwd);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /unknown command "serach" \(did you mean search\? see colts --help\)/);
    const sub = await runCli(["index", "bulid", "x"], cwd);
    assert.equal(sub.code, 2);
    assert.match(sub.stderr, /colts index: unknown subcommand "bulid" \(did you mean build\?/);
    const help = await runCli(["help", "nope"], cwd);
    assert.equal(help.code, 2);
    assert.match(help.stderr, /unknown command "nope"/);
  });

  test("a group's page lists its sub-commands; the group alone is a usage error", async () => {
    for (const [group, subs] of [["index", INDEX_COMMANDS], ["model", MODEL_COMMANDS]] as const) {
      const page = await runCli([group, "--help"], cwd);
      assert.equal(page.code, 0);
      for (const c of Object.values(subs)) assert.ok(page.stdout.includes(`  ${c.spec.name}  `), c.spec.name);
      assert.equal((await runCli(["help", group], cwd)).stdout, page.stdout);
      assert.equal((await runCli([group], cwd)).code, 2);
    }
  });

  test("closest names: typos by edit distance, else a name at either end; nothing for far ones", () => {
    assert.equal(editDistance("threads", "thraeds"), 1, "a transposition is one edit");
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.deepEqual(closestNames("topk", ["k", "tag", "depth"]), ["k"]);
    assert.deepEqual(closestNames("max", ["max-k", "max-body", "port"]), ["max-k", "max-body"]);
    assert.deepEqual(closestNames("Dims", ["dim", "dims-x"]), ["dim"]);
    assert.deepEqual(closestNames("x", ["t", "k"]), [], "one letter is no evidence");
    assert.deepEqual(closestNames("threads", ["t", "output"]), [], "a one-letter flag is not inside a long word");
  });
});

/** Vectors of the first line of `colts encode` output. */
function firstVectors(stdout: string): number[][] {
  return (JSON.parse(stdout.split("\n")[0] ?? "") as { vectors: number[][] }).vectors;
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.flatMap((row, i) => row.map((x, j) => Math.abs(x - (b[i]?.[j] ?? NaN)))));
}

describe("the shared model flags", () => {
  const cwd = suiteDir();
  const runtime = ["--threads", "1", "--workers", "0", "--offline", "--provider", "cpu", "--revision", "main"];
  before(async () => {
    fs.renameSync(await tinyModel(cwd, { layout: "onnx", int8: true, wordEmbeddingStd: 0.2 }), path.join(cwd, "model"));
    const words = ["apple", "river", "stone", "cloud", "engine", "garden", "silver", "window"];
    const corpus = words.map((w, i) => ({ id: `d${i}`, title: "", text: `${w} ${words[(i * 3) % words.length]} number ${i}` }));
    const queries = words.slice(0, 4).map((w, i) => ({ id: `q${i}`, text: w }));
    await writeBeir(path.join(cwd, "ds"), "train", { corpus, queries, qrels: new Map(queries.map((q, i) => [q.id, new Map([[`d${i}`, 1]])])) });
    fs.copyFileSync(path.join(cwd, "ds", "qrels", "train.tsv"), path.join(cwd, "ds", "qrels", "test.tsv"));
  });

  test("bad values are usage errors on every model-loading command, before any file is read", async () => {
    const base: Record<string, string[]> = {
      encode: ["encode", "-m", "nope", "--queries"],
      "index build": ["index", "build", "idx-x", "-m", "nope", "--input", "nope.jsonl"],
      "index add": ["index", "add", "idx-x", "-m", "nope", "--input", "nope.jsonl"],
      search: ["search", "nope", "q"],
      rerank: ["rerank", "-m", "nope", "-q", "q", "-d", "nope.jsonl"],
      eval: ["eval", "--index", "nope", "--dataset", "nope"],
      mine: ["mine", "--dataset", "nope", "--index", "nope", "--output", "x.jsonl"],
      serve: ["serve", "nope"],
      mcp: ["mcp", "nope"],
    };
    assert.deepEqual(Object.keys(base).sort(), [...MODEL_LOADING].sort());
    for (const [name, argv] of Object.entries(base)) {
      for (const [bad, message] of [
        [["--threads", "0"], /--threads must be an integer in 1\.\.256/],
        [["--workers", "65"], /--workers must be an integer in 0\.\.64/],
        [["--provider", "tpu"], /--provider must be one of cpu, cuda/],
      ] as const) {
        const r = await runCli([...argv, ...bad], cwd);
        assert.equal(r.code, 2, `${name} ${bad.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message, name);
      }
    }
    assert.match((await runCli([...(base["serve"] ?? []), "--workers", "0"], cwd)).stderr, /--workers must be an integer in 1\.\.64 for colts serve/);
    assert.match((await runCli([...(base["mcp"] ?? []), "--workers", "0"], cwd)).stderr, /--workers must be an integer in 1\.\.64 for colts mcp/);
    assert.match((await runCli(["teacher", "--data", "x", "--name", "t", "--output", "o", "--run", "r", "--threads", "0"], cwd)).stderr, /--threads must be an integer/);
    assert.match((await runCli(["teacher", "--data", "x", "--name", "t", "--output", "o", "--run", "r", "--workers", "1"], cwd)).stderr, /unknown option --workers/);
  });

  test("encode, index build / add, search, rerank, eval and mine run with --threads 1 --workers 0 --offline --provider cpu --revision main", async () => {
    const plain = await runCli(["encode", "-m", "model", "--queries"], cwd, "apple river\n");
    assert.equal(plain.code, 0, plain.stderr);
    const flagged = await runCli(["encode", "-m", "model", "--queries", ...runtime], cwd, "apple river\n");
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.ok(maxAbsDiff(firstVectors(flagged.stdout), firstVectors(plain.stdout)) < 1e-5);

    const build = await runCli(["index", "build", "idx", "-m", "model", "--input", "ds", "--centroids", "8", ...runtime], cwd);
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stdout, /8 documents/);
    fs.writeFileSync(path.join(cwd, "more.jsonl"), '{"id": "extra", "text": "apple apple apple"}\n');
    const add = await runCli(["index", "add", "idx", "--input", "more.jsonl", ...runtime], cwd);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /9 live documents/);
    const search = await runCli(["search", "idx", "apple", "-k", "3", "--json", "--exact", ...runtime], cwd);
    assert.equal(search.code, 0, search.stderr);
    assert.equal((JSON.parse(search.stdout) as unknown[]).length, 3);
    const rerank = await runCli(["rerank", "-m", "model", "-q", "apple", "-d", "ds", "-k", "2", "--json", ...runtime], cwd);
    assert.equal(rerank.code, 0, rerank.stderr);
    assert.equal((JSON.parse(rerank.stdout) as unknown[]).length, 2);
    const ev = await runCli(["eval", "--index", "idx", "--dataset", "ds", "--retriever", "exact", "--json", ...runtime], cwd);
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal((JSON.parse(ev.stdout) as { results: { queries: number }[] }).results[0]?.queries, 4);
    const mine = await runCli(["mine", "--dataset", "ds", "--index", "idx", "--retriever", "exact", "--negatives", "2", "--window", "1-6", "--output", "m.jsonl", ...runtime], cwd);
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stderr, /mined 4 lines/);
  });

  test("--quantized reaches the loader: encode uses the int8 graph (close to, not equal to, fp32)", async () => {
    const fp32 = firstVectors((await runCli(["encode", "-m", "model", "--documents", "--workers", "0"], cwd, "silver window garden\n")).stdout);
    const r = await runCli(["encode", "-m", "model", "--documents", "--workers", "0", "--quantized"], cwd, "silver window garden\n");
    assert.equal(r.code, 0, r.stderr);
    const int8 = firstVectors(r.stdout);
    const diff = maxAbsDiff(int8, fp32);
    assert.ok(diff > 0 && diff < 0.5, `int8 vs fp32: ${diff}`);
  });

  test("colts serve takes the model flags: --quantized --threads 1 reach its workers (its /encode matches encode --quantized)", async (t) => {
    assert.equal((await runCli(["index", "build", "idx-serve", "-m", "model", "--input", "ds", "--centroids", "8", "--workers", "0"], cwd)).code, 0);
    const { child, base, exited, stderr: log } = await spawnServe(t, [`docs=${path.join(cwd, "idx-serve")}`, "--port", "0", "--workers", "1", "--threads", "1", "--quantized", "--offline", "--provider", "cpu", "--revision", "main"], { COLTS_TOKEN: "" });
    const res = await fetch(`${base}/encode`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ texts: ["silver window"], kind: "document" }) });
    assert.equal(res.status, 200, await res.clone().text());
    const served = ((await res.json()) as { embeddings: { vectors: number[][] }[] }).embeddings[0]?.vectors ?? [];
    child.kill("SIGTERM");
    assert.equal(await exited, 0, log());
    const cli = (q: boolean): Promise<string> =>
      runCli(["encode", "-m", "model", "--documents", "--workers", "0", "--threads", "1", ...(q ? ["--quantized"] : [])], cwd, "silver window\n").then((r) => r.stdout);
    assert.ok(maxAbsDiff(served, firstVectors(await cli(true))) < 1e-5, "the served model is the int8 one");
    assert.ok(maxAbsDiff(served, firstVectors(await cli(false))) > 0);
  });
});
