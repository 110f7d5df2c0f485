/**
 * Partial results of a sharded PostgreSQL index (`allowPartial`): the shards a set of ranked lists
 * was searched without. Kept apart from the searcher so that front ends (the server's main thread,
 * the CLI) can read the marks without loading the model runtime.
 */
import type { Hits } from "./types.js";

/** Every shard that any of `lists` was ranked without, each once, in order of first mention (none: []). */
export function missingShardsOf(lists: readonly Hits[]): string[] {
  return [...new Set(lists.flatMap((l) => l.partial?.missingShards ?? []))];
}
