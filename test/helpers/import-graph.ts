/**
 * The import graph of src/, read from the TypeScript sources (static, dynamic and type-only imports and
 * re-exports alike), for the tests that keep the layering.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { repoRoot } from "./paths.js";

export const SRC = path.join(repoRoot, "src");

/** One source file: its path relative to src/ and what it imports. */
export interface SourceFile {
  file: string;
  /** Files of src/ it imports, relative to src/ (`.ts`). */
  local: string[];
  /** Packages it imports (`onnxruntime-node`, `node:fs`, `@scope/name`). */
  packages: string[];
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Package name of a bare specifier: `@a/b/c` -> `@a/b`, `x/y` -> `x`, `node:fs` stays. */
function packageName(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

/** Every .ts file of src/ with its imports, sorted by path. */
export function readImportGraph(): SourceFile[] {
  return listTs(SRC)
    .sort()
    .map((abs) => {
      const info = ts.preProcessFile(fs.readFileSync(abs, "utf8"), true, true);
      const local: string[] = [];
      const packages: string[] = [];
      for (const { fileName: spec } of info.importedFiles) {
        if (spec.startsWith(".")) local.push(path.relative(SRC, path.resolve(path.dirname(abs), spec.replace(/\.js$/, ".ts"))));
        else packages.push(packageName(spec));
      }
      return { file: path.relative(SRC, abs), local, packages };
    });
}

/** Strongly connected components with more than one file (or a file importing itself): the import circles. */
export function circles(graph: readonly SourceFile[]): string[][] {
  const edges = new Map(graph.map((f) => [f.file, f.local]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const f of graph) if (!index.has(f.file)) visit(f.file);
  return found;
}

/** Files reachable from `start` (itself included) through static and dynamic imports. */
export function closure(graph: readonly SourceFile[], start: string): Set<string> {
  const edges = new Map(graph.map((f) => [f.file, f.local]));
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length > 0) {
    for (const w of edges.get(todo.pop()!) ?? []) {
      if (!seen.has(w)) {
        seen.add(w);
        todo.push(w);
      }
    }
  }
  return seen;
}
