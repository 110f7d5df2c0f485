/**
 * The README's TypeScript examples are type-checked against the built package (`import ... from
 * "colts"` resolves through package.json "exports" to dist/), so an example cannot name an export,
 * an option or a signature that no longer exists.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { repoRoot } from "../helpers/paths.js";

/** The ```ts blocks of a Markdown text, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== "```ts") continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1]?.trim() !== "```") i++;
    blocks.push({ line: start + 1, code: lines.slice(start, i + 1).join("\n") });
    i++;
  }
  return blocks;
}

/** Type errors of each snippet, compiled as ES modules inside the package (so "colts" self-resolves). */
function typeErrors(snippets: readonly string[], dirName: string): string[] {
  const dir = path.join(repoRoot, "dist", dirName);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const files = snippets.map((code, i) => {
    const file = path.join(dir, `example-${i}.ts`);
    fs.writeFileSync(file, `${code}\nexport {};\n`);
    return file;
  });
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts"],
    types: ["node"],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : "";
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

test("every TypeScript example in README.md type-checks against the package's public entries", () => {
  const blocks = tsBlocks(fs.readFileSync(path.join(repoRoot, "README.md"), "utf8"));
  assert.ok(blocks.length >= 3, `expected the README's library examples, found ${blocks.length}`);
  const errors = typeErrors(
    blocks.map((b) => b.code),
    "readme-examples",
  );
  const located = errors.map((e) => e.replace(/^example-(\d+)\.ts:(\d+)/, (_, i: string, l: string) => `README.md:${(blocks[Number(i)]?.line ?? 0) + Number(l) - 1}`));
  assert.deepEqual(located, []);
});

test("the check catches a stale example (a name the package does not export)", () => {
  const errors = typeErrors(['import { NoSuchExport } from "colts";\nconsole.log(NoSuchExport);'], "readme-examples-self-check");
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? "", /NoSuchExport/);
});
