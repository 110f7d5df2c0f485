/**
 * Flag tables and what is generated from them: each command declares its flags once (a
 * `CommandSpec`), and both parsing (node:util parseArgs) and the `--help` page are built from that
 * declaration, so the two cannot drift apart. Unknown flags become USAGE errors that name the
 * closest declared flag.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ColtsError } from "../errors.js";
import type { CliIO } from "./io.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flag values: strings for valued flags, `true` for switches, undefined when absent. */
export type Values = Record<string, string | boolean | undefined>;

/** One flag of a command: how it parses and how `--help` describes it. */
export interface FlagSpec {
  /** Long name without the dashes (`batch-size` for `--batch-size`). */
  name: string;
  /** One-letter alias without the dash (`k` for `-k`). Default: none. */
  short?: string;
  /** "string" takes a value; "boolean" is a switch. */
  type: "string" | "boolean";
  /** Placeholder of the value in help (`N`, `DIR`). Default "VALUE"; unused for switches. */
  arg?: string;
  /**
   * The default as help shows it. Display only: commands apply their defaults themselves, because
   * several depend on other flags or must tell "absent" from "given" (merge refuses a flag that
   * does not apply to the chosen method). Default: none shown.
   */
  default?: string;
  /** One line: what the flag means. */
  help: string;
  /** Heading of the help block the flag is listed in. Default "Flags". Shared flag sets set their own. */
  group?: string;
}

/** One command (or sub-command): its flags, its help text and an example. */
export interface CommandSpec {
  /** The words after `colts`: "encode", "index build". */
  name: string;
  /** One line for the global `colts --help` page. */
  summary: string;
  /** Synopsis lines after `colts <name>`, e.g. `<dir> --model M --input <corpus>`; flags are added as "[flags]". */
  usage: string[];
  /** Paragraphs printed below the synopsis. Default: none. */
  description?: string;
  flags: FlagSpec[];
  /** One example command line, starting with `colts`. */
  example: string;
}

/** A runnable command and the declaration its flags are parsed and documented from. */
export interface Command {
  spec: CommandSpec;
  /** Runs with the arguments after the command's words; resolves to the exit code. */
  run(argv: string[], io: CliIO): Promise<number>;
}

function parseOptions(flags: readonly FlagSpec[]): Options {
  const options: Options = {};
  for (const f of flags) options[f.name] = f.short ? { type: f.type, short: f.short } : { type: f.type };
  return options;
}

/** Parses `argv` against the command's flag table; unknown flags and missing values are USAGE errors. */
export function parse(argv: string[], spec: CommandSpec): { values: Values; positionals: string[] } {
  const options = parseOptions(spec.flags);
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (cause) {
    if ((cause as { code?: unknown }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const unknown = firstUnknownOption(argv, options);
      if (unknown !== undefined) throw unknownFlagError(spec, unknown, cause);
    }
    throw new ColtsError("USAGE", `colts ${spec.name}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The first option in `argv` that `options` does not declare, as typed (`--topk`, `-x`). */
function firstUnknownOption(argv: string[], options: Options): string | undefined {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) if (t.kind === "option" && !Object.hasOwn(options, t.name)) return t.rawName;
  return undefined;
}

function flagLabel(f: FlagSpec): string {
  return f.short ? `-${f.short} / --${f.name}` : `--${f.name}`;
}

function unknownFlagError(spec: CommandSpec, typed: string, cause: unknown): ColtsError {
  const close = closestFlags(typed, spec.flags);
  const hint = close.length > 0 ? ` (did you mean ${close.map(flagLabel).join(", ")}?)` : `; see colts help ${spec.name}`;
  return new ColtsError("USAGE", `colts ${spec.name}: unknown option ${typed}${hint}`, { cause, details: { option: typed } });
}

/** Optimal string alignment distance: Levenshtein plus transposition of two adjacent characters. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const prev = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2]?.[j - 2] as number) + 1);
      row[j] = d;
    }
  }
  return rows[a.length]?.[b.length] as number;
}

/**
 * Names close to `typed` (case and `_` vs `-` ignored), best first, at most 3. Close means a typo
 * (edit distance at most a third of the typed length, and less than either name's length, so
 * `--x` does not suggest `--t`), else one name at either end of the other with at most 3
 * characters more (`--topk` -> `k`, `--max` -> `max-k`, `--size` -> `batch-size`). Empty when
 * nothing is close.
 */
export function closestNames(typed: string, names: readonly string[]): string[] {
  const t = typed.toLowerCase().replace(/_/g, "-");
  const limit = Math.max(1, Math.floor(t.length / 3));
  const typos = names
    .map((name) => ({ name, d: editDistance(t, name.toLowerCase()) }))
    .filter(({ name, d }) => d === 0 || (d <= limit && d < Math.min(t.length, name.length)));
  if (typos.length > 0) {
    const best = Math.min(...typos.map((c) => c.d));
    return typos.filter((c) => c.d === best).slice(0, 3).map((c) => c.name);
  }
  const atEnd = (long: string, short: string): boolean => short.length > 0 && long.length <= short.length + 3 && (long.startsWith(short) || long.endsWith(short));
  const lower = (n: string): string => n.toLowerCase();
  return names.filter((n) => atEnd(t, lower(n)) || (t.length >= 2 && atEnd(lower(n), t)) || (t.length >= 3 && (lower(n).startsWith(t) || lower(n).endsWith(t)))).slice(0, 3);
}

/** Declared flags close to an unknown option as typed (`--topk`, `-K`). */
export function closestFlags(typed: string, flags: readonly FlagSpec[]): FlagSpec[] {
  const bare = typed.replace(/^-+/, "");
  if (/^-[^-]/.test(typed)) {
    // A one-letter option: only the same letter in another case is a likely slip.
    return flags.filter((f) => f.short?.toLowerCase() === bare.toLowerCase() || f.name.toLowerCase() === bare.toLowerCase());
  }
  const byName = new Map(flags.map((f) => [f.name, f]));
  return closestNames(bare, flags.map((f) => f.name)).map((n) => byName.get(n) as FlagSpec);
}

/** The synopsis lines (`Usage: colts <name> ...`). */
export function usageLines(spec: CommandSpec): string {
  const lines = spec.usage.map((u) => `colts ${spec.name}${u ? ` ${u}` : ""}${spec.flags.length > 0 ? " [flags]" : ""}`);
  return lines.map((l, i) => `${i === 0 ? "Usage: " : "       "}${l}`).join("\n");
}

/** The command's `--help` page: synopsis, description, every flag by group with its default, an example. */
export function formatHelp(spec: CommandSpec): string {
  const left = (f: FlagSpec): string => `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.type === "string" ? ` ${f.arg ?? "VALUE"}` : ""}`;
  const width = Math.min(26, Math.max(...spec.flags.map((f) => left(f).length)) + 2);
  const groups = new Map<string, FlagSpec[]>();
  for (const f of spec.flags) {
    const g = f.group ?? "Flags";
    groups.set(g, [...(groups.get(g) ?? []), f]);
  }
  const blocks = [usageLines(spec), ...(spec.description ? [spec.description] : [])];
  for (const [group, flags] of groups) {
    const rows = flags.map((f) => {
      const l = left(f);
      const text = `${f.help}${f.default !== undefined ? ` (default: ${f.default})` : ""}`;
      return l.length < width ? `  ${l.padEnd(width)}${text}` : `  ${l}\n  ${" ".repeat(width)}${text}`;
    });
    blocks.push(`${group}:\n${rows.join("\n")}`);
  }
  blocks.push(`Example:\n  ${spec.example}`);
  return `${blocks.join("\n\n")}\n`;
}

/** A USAGE error for `spec` with its synopsis and where to read more. */
export function usageError(spec: CommandSpec, message: string): ColtsError {
  return new ColtsError("USAGE", `colts ${spec.name}: ${message}\n${usageLines(spec)}\n(colts help ${spec.name} lists every flag)`);
}

/** An integer flag within [min, max]; undefined when absent. */
export function intFlag(values: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isInteger(n) || n < min || n > max) {
    throw new ColtsError("USAGE", `--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A number flag within [min, max] (default: any finite number); undefined when absent. */
export function numberFlag(values: Record<string, unknown>, name: string, min = -Infinity, max = Infinity): number | undefined {
  const v = stringFlag(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new ColtsError("USAGE", `--${name} must be a number, got ${JSON.stringify(v)}`);
  if (n < min || n > max) throw new ColtsError("USAGE", `--${name} must be a number in [${min}, ${max}], got ${v}`);
  return n;
}

/** A valued flag's string; undefined when absent. */
export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/** A valued flag restricted to `allowed`; undefined when absent, USAGE error naming the choices otherwise. */
export function oneOf<T extends string>(values: Record<string, unknown>, name: string, allowed: readonly T[]): T | undefined {
  const v = stringFlag(values, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new ColtsError("USAGE", `--${name} must be one of ${allowed.join(", ")}, got ${v}`);
  return v as T;
}
