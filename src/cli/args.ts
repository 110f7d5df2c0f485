/** Flag parsing for the CLI on node:util parseArgs, with USAGE errors that name the flag. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ColtsError } from "../errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse(argv: string[], options: Options, command: string): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (cause) {
    throw new ColtsError("USAGE", `${command}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
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

export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function oneOf<T extends string>(values: Record<string, unknown>, name: string, allowed: readonly T[]): T | undefined {
  const v = stringFlag(values, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new ColtsError("USAGE", `--${name} must be one of ${allowed.join(", ")}, got ${v}`);
  return v as T;
}
