/**
 * Every symbol of the public surface carries a TSDoc comment: each export of the root entry and of the
 * subpath entries (package.json "exports") is followed through its re-exports to its declaration, which
 * needs a `/** ... *\/` comment; so do the public members of exported classes and the properties of
 * exported interfaces and object types (the options users pass). Read with the TypeScript compiler.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { repoRoot } from "../helpers/paths.js";

/** One declaration without a TSDoc comment. */
interface Missing {
  /** Path relative to the root given to `findUndocumented`, with `/` separators. */
  file: string;
  /** 1-based line of the declaration's name. */
  line: number;
  /** The exported name, or `Owner.member` for a member. */
  name: string;
}

/** What `findUndocumented` saw: the declarations it checked (a count that shows it read something) and those lacking a comment. */
interface Report {
  checked: number;
  missing: Missing[];
}

/**
 * True when a `/** ... *\/` comment with some text precedes the node (a variable's comment sits on its
 * statement), or when the node is a field of a documented union variant.
 */
function hasTsdoc(node: ts.Node): boolean {
  const host = ts.isVariableDeclaration(node) && ts.isVariableStatement(node.parent.parent) ? node.parent.parent : node;
  const text = host.getSourceFile().text;
  const ranges = ts.getLeadingCommentRanges(text, host.getFullStart()) ?? [];
  return ranges.some((r) => isTsdocText(text.slice(r.pos, r.end))) || isDocumentedUnionVariant(node.parent);
}

/** A `/** ... *\/` comment with some text in it. */
function isTsdocText(comment: string): boolean {
  return comment.startsWith("/**") && comment !== "/**/" && comment.slice(3, -2).replace(/[\s*]/g, "") !== "";
}

/**
 * True when `node` is an object type that is one variant of a union and a TSDoc comment precedes the
 * variant (before or after its `|`): such a comment describes the variant's fields, as in
 * `/** \`field op value\`. *\/ | { kind: "compare"; field: ...; op: ...; value: ... }`.
 */
function isDocumentedUnionVariant(node: ts.Node): boolean {
  const union = node.parent;
  if (!ts.isTypeLiteralNode(node) || !ts.isUnionTypeNode(union)) return false;
  const i = union.types.indexOf(node);
  const text = node.getSourceFile().text;
  const before = i === 0 ? union.getFullStart() : (union.types[i - 1] as ts.TypeNode).getEnd();
  const ranges = [...(ts.getLeadingCommentRanges(text, before) ?? []), ...(ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [])];
  return ranges.some((r) => isTsdocText(text.slice(r.pos, r.end)));
}

function isPrivateOrProtected(member: ts.Node): boolean {
  const name = (member as { name?: ts.Node }).name;
  if (name && ts.isPrivateIdentifier(name)) return true;
  const flags = ts.getCombinedModifierFlags(member as ts.Declaration);
  return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0;
}

/** Members of an interface or object type: its properties and method signatures. */
function isSignatureMember(d: ts.Declaration): boolean {
  return ts.isPropertySignature(d) || ts.isMethodSignature(d);
}

/**
 * Walks every export of the entry files (a program's source files) and lists the declarations without a
 * TSDoc comment. Only declarations in files under `root` count (lib and package types are not ours).
 */
function findUndocumented(program: ts.Program, entries: readonly string[], root: string): Report {
  const checker = program.getTypeChecker();
  const missing = new Map<string, Missing>();
  const seen = new Set<ts.Node>();
  let checked = 0;

  const ours = (d: ts.Node): boolean => {
    const rel = path.relative(root, d.getSourceFile().fileName);
    return !rel.startsWith("..") && !path.isAbsolute(rel) && !d.getSourceFile().isDeclarationFile;
  };
  /** Checks a group of declarations of one name (overloads, accessor pairs, merged interfaces): one comment suffices. */
  const check = (decls: readonly ts.Declaration[], name: string): void => {
    const mine = decls.filter(ours);
    const first = mine[0];
    if (first === undefined || mine.some((d) => seen.has(d))) return;
    for (const d of mine) seen.add(d);
    checked++;
    if (mine.some(hasTsdoc)) return;
    const sf = first.getSourceFile();
    const at = ts.getNameOfDeclaration(first) ?? first;
    const file = path.relative(root, sf.fileName).split(path.sep).join("/");
    const line = sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1;
    missing.set(`${file}:${line} ${name}`, { file, line, name });
  };
  const checkProperties = (type: ts.Type, owner: string): void => {
    const parts = type.isUnion() ? type.types : [type];
    for (const part of parts) {
      for (const p of checker.getPropertiesOfType(part)) check((p.declarations ?? []).filter(isSignatureMember), `${owner}.${p.name}`);
    }
  };
  const checkClass = (cls: ts.ClassLikeDeclaration, owner: string): void => {
    const groups = new Map<string, ts.Declaration[]>();
    for (const m of cls.members) {
      if (ts.isConstructorDeclaration(m)) {
        // `constructor(readonly name: T)` declares a property, public even when the constructor is not.
        for (const p of m.parameters) {
          if (ts.isParameterPropertyDeclaration(p, m) && !isPrivateOrProtected(p)) groups.set(p.name.getText(), [p]);
        }
        if (m.parameters.length > 0 && !isPrivateOrProtected(m)) groups.set("constructor", [...(groups.get("constructor") ?? []), m]);
        continue;
      }
      if (isPrivateOrProtected(m)) continue;
      if (!(ts.isMethodDeclaration(m) || ts.isPropertyDeclaration(m) || ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m))) continue;
      const key = `${ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static ? "static " : ""}${m.name.getText()}`;
      groups.set(key, [...(groups.get(key) ?? []), m]);
    }
    for (const [key, decls] of groups) check(decls, `${owner}.${key.replace(/^static /, "")}`);
  };

  for (const entry of entries) {
    const sf = program.getSourceFile(entry);
    assert.ok(sf, `entry ${entry} is not in the program`);
    const moduleSymbol = checker.getSymbolAtLocation(sf);
    assert.ok(moduleSymbol, `entry ${entry} is not a module`);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decls = symbol.declarations ?? [];
      check(decls, exported.name);
      for (const d of decls) {
        if (ts.isClassDeclaration(d)) checkClass(d, exported.name);
      }
      if (decls.some(ts.isInterfaceDeclaration) || decls.some(ts.isTypeAliasDeclaration)) {
        checkProperties(checker.getDeclaredTypeOfSymbol(symbol), exported.name);
      }
    }
  }
  return { checked, missing: [...missing.values()].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.name.localeCompare(b.name)) };
}

/** The public entries: src/ files matching the "types" of each package.json export. */
function publicEntries(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { exports: Record<string, unknown> };
  const entries: string[] = [];
  for (const target of Object.values(pkg.exports)) {
    if (typeof target !== "object" || target === null) continue;
    const types = (target as { types?: string }).types;
    if (types) entries.push(path.join(repoRoot, types.replace(/^\.\/dist\//, "").replace(/\.d\.ts$/, ".ts")));
  }
  return entries;
}

test("the checker reports what lacks a comment, through re-exports, and nothing that has one", () => {
  const files: Record<string, string> = {
    "/v/src/index.ts": `export { Thing, helper, type Opts, type Alias, type Event, Made, Built } from "./a.js";\nexport { undocumentedConst } from "./b.js";\n`,
    "/v/src/a.ts": [
      `/** Documented. */`,
      `export function helper(x: number): number;`,
      `export function helper(x: string): string;`,
      `export function helper(x: unknown): unknown { return x; }`,
      `/** Documented class. */`,
      `export class Thing {`,
      `  /** Documented. */ size = 1;`,
      `  count = 0;`,
      `  private hidden = 0;`,
      `  #secret = 0;`,
      `  constructor() {}`,
      `  run(): void {}`,
      `}`,
      `interface Base {`,
      `  /** Documented. */ inherited: number;`,
      `  bare: number;`,
      `}`,
      `/** Options. */`,
      `export interface Opts extends Base {`,
      `  /** Meaning and default. */`,
      `  a?: number;`,
      `  b?: string; /** A comment after a member on its line documents nothing (as for TypeScript's own tools). */ e?: number;`,
      `}`,
      `export type Alias = {`,
      `  c: number;`,
      `  /** Documented. */`,
      `  d: number;`,
      `};`,
      `/** Documented union. */`,
      `export type Event =`,
      `  /** Started; \`at\` is the time (a variant's comment covers its fields). */`,
      `  | { kind: "start"; at: number }`,
      `  | { kind: "stop"; code: number };`,
      `export function notReExported(): void {}`,
      `/** Documented. */`,
      `export class Made {`,
      `  private constructor(`,
      `    /** Documented. */`,
      `    readonly shown: number,`,
      `    readonly bare: number,`,
      `    private readonly hidden: number,`,
      `  ) {}`,
      `}`,
      `/** Documented. */`,
      `export class Built {`,
      `  constructor(readonly x: number) {}`,
      `}`,
      ``,
    ].join("\n"),
    "/v/src/b.ts": `/* a plain comment is not TSDoc */\nexport const undocumentedConst = 1;\n`,
  };
  const options: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noLib: true, types: [] };
  const host = ts.createCompilerHost(options);
  const resolveJs = (f: string): string => f.replace(/\.js$/, ".ts");
  host.fileExists = (f) => resolveJs(f) in files || f in files;
  host.readFile = (f) => files[f] ?? files[resolveJs(f)];
  host.getSourceFile = (f, lang) => {
    const text = files[f];
    return text === undefined ? undefined : ts.createSourceFile(f, text, lang);
  };
  host.getCurrentDirectory = () => "/v";
  host.directoryExists = () => true;
  host.getDirectories = () => [];
  host.useCaseSensitiveFileNames = () => true;
  host.getCanonicalFileName = (f) => f;
  const program = ts.createProgram(["/v/src/index.ts"], options, host);
  const report = findUndocumented(program, ["/v/src/index.ts"], "/v");
  assert.deepEqual(
    report.missing.map((m) => `${m.file}:${m.line} ${m.name}`),
    [
      "src/a.ts:8 Thing.count",
      "src/a.ts:12 Thing.run",
      "src/a.ts:16 Opts.bare",
      "src/a.ts:22 Opts.b",
      "src/a.ts:22 Opts.e",
      "src/a.ts:24 Alias",
      "src/a.ts:25 Alias.c",
      "src/a.ts:33 Event.code",
      "src/a.ts:33 Event.kind",
      "src/a.ts:40 Made.bare",
      "src/a.ts:46 Built.constructor",
      "src/a.ts:46 Built.x",
      "src/b.ts:2 undocumentedConst",
    ],
  );
});

test("every export of the public entries, its class members and its option properties have a TSDoc comment", (t) => {
  const config = ts.readConfigFile(path.join(repoRoot, "tsconfig.json"), (f) => ts.sys.readFile(f));
  assert.ok(!config.error, "tsconfig.json reads");
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, repoRoot);
  const entries = publicEntries();
  assert.ok(entries.length >= 10, `package.json exports name the entries (${entries.length} found)`);
  const program = ts.createProgram(entries, { ...parsed.options, noEmit: true, incremental: false });
  const report = findUndocumented(program, entries, repoRoot);
  // The public surface is large; a count far below this means the walk read too little.
  assert.ok(report.checked > 800, `only ${report.checked} declarations were checked`);
  t.diagnostic(`${report.checked} declarations checked`);

  const undocumented = report.missing.map((m) => `${m.file}:${m.line} ${m.name}`);
  assert.deepEqual(undocumented, [], `${undocumented.length} public declarations lack a TSDoc comment:\n${undocumented.join("\n")}`);
});
