/** Command-line flags of the benchmarks: `--name value` pairs in process.argv. */

/** The value after `name`, or `fallback` when the flag (or its value) is absent. */
export function stringFlag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** The value after `name` as a number (NaN when it is not one), or `fallback` when absent. */
export function numberFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1] ?? fallback) : fallback;
}
