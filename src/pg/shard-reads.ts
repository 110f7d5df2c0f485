/**
 * The reads of a sharded index (reads.ts `PgReads`): each is one call of a coordinator proxy
 * function, which PL/Proxy runs on every shard in parallel. The first stage keeps the best `limit`
 * of the shards' candidates by FDE distance (ties by ordinal), as one node's HNSW list would hold.
 *
 * Failures: when a call fails, every shard is pinged directly, all at once, each within
 * PING_TIMEOUT_MS; the ones that do not answer are named in SHARD_UNAVAILABLE. With `allowPartial`,
 * the search goes on over the shards that answered, one `..._on` call each, and `missing` names
 * the others.
 *
 * Hangs: the coordinator enforces statement_timeout, but a shard that is frozen rather than down
 * (its processes stopped, its host unreachable mid-call) also blocks the coordinator's cancel of
 * the remote call. So every call also has a client-side deadline (the timeout plus
 * DEADLINE_GRACE_MS); when it passes, the coordinator connection is replaced and the shards are
 * pinged as above. The search fails or goes on; it never hangs.
 */
import { ColtsError, isColtsError } from "../errors.js";
import type { SearchHit } from "../plaid/plaid-index.js";
import { connect, disconnect, missedDeadline, query, reconnect, type PgSession } from "./connection.js";
import { keywordHits, type CodeRow, type DescribedRow, type PgReads } from "./reads.js";
import type { IvfRow } from "./plaid-search.js";
import type { VectorRow } from "./rows.js";
import { condition } from "./search-sql.js";
import type { ResolvedSearch } from "./search-options.js";
import { callSql, remoteCondition, type ShardFunctionName } from "./shard-functions.js";
import { nodeName, shardLocation, type ShardNode } from "./sharding.js";

/** How long one shard may take to answer a ping once a call has failed. */
export const PING_TIMEOUT_MS = 2000;
/** Statement timeout of a sharded index's searches when the URL sets none: a shard that hangs never hangs a search. */
export const DEFAULT_SHARD_TIMEOUT_MS = 30_000;
/** How far past the statement timeout the client stops waiting for the coordinator (see the file comment). */
export const DEADLINE_GRACE_MS = 2000;

/** Largest bigint: the "after" of a shard whose pages are exhausted. */
const PAST_LAST = "9223372036854775807";

/** The reads of one search over a sharded index (a new one per search: it records the missing shards). */
export class ShardedReads implements PgReads {
  /** Shards left out of this search (only with allowPartial). */
  readonly missing: ShardNode[] = [];
  /** Parts called one by one once a shard has failed; null: every call goes to all at once. */
  private live: number[] | null = null;

  constructor(
    private readonly s: PgSession,
    private readonly nodes: readonly ShardNode[],
    /** The statement timeout searches run under (restored after pings). */
    private readonly timeoutMs: number,
    private readonly allowPartial: boolean,
  ) {}

  /** Reads over the same shards with nothing missing yet, for another search (or text read). */
  fresh(allowPartial: boolean): ShardedReads {
    return new ShardedReads(this.s, this.nodes, this.timeoutMs, allowPartial);
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async candidates(fde: string, limit: number, o: ResolvedSearch): Promise<number[]> {
    const { cond, params } = remote(o);
    const rows = await this.callShards<{ ordinal: string; distance: number }>("f_fde", [fde, limit, o.efSearch, o.maxScanTuples, cond, params], "find FDE candidates");
    return rows
      .map((r) => ({ ordinal: Number(r.ordinal), distance: r.distance }))
      .sort((a, b) => a.distance - b.distance || a.ordinal - b.ordinal)
      .slice(0, limit)
      .map((r) => r.ordinal);
  }

  async ivf(centroids: readonly number[]): Promise<IvfRow[]> {
    return this.callShards<IvfRow>("f_ivf", [centroids], "read the IVF lists");
  }

  async admit(ordinals: readonly number[] | null, o: ResolvedSearch): Promise<number[]> {
    const { cond, params } = remote(o);
    return (await this.callShards<{ ordinal: string }>("f_admit", [ordinals, cond, params], "filter the candidates")).map((r) => Number(r.ordinal));
  }

  async vectorsOf(ordinals: readonly number[]): Promise<VectorRow[]> {
    const rows = await this.callShards<VectorRow>("f_vectors", [ordinals], "read candidate vectors");
    return rows.sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
  }

  async codesOf(ordinals: readonly number[]): Promise<CodeRow[]> {
    const rows = await this.callShards<CodeRow>("f_codes", [ordinals], "read candidate codes");
    return rows.sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
  }

  async *exactPages(o: ResolvedSearch): AsyncIterable<VectorRow[]> {
    const { cond, params } = remote(o);
    const afters: string[] = this.nodes.map(() => "-1");
    while (afters.some((a) => a !== PAST_LAST)) {
      const rows = await this.callShards<VectorRow & { part: number }>("f_exact", [afters, o.batchDocs, cond, params], "read vectors");
      const perPart = new Map<number, VectorRow[]>();
      for (const r of rows) {
        const got = perPart.get(r.part);
        if (got) got.push(r);
        else perPart.set(r.part, [r]);
      }
      this.nodes.forEach((n) => {
        const got = perPart.get(n.part) ?? [];
        // A shard left out (partial) or with a short page is done.
        afters[n.part] = got.length < o.batchDocs ? PAST_LAST : (got[got.length - 1] as VectorRow).ordinal;
      });
      const page = rows.map(({ ordinal, doclen, codes, residuals }) => ({ ordinal, doclen, codes, residuals })).sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
      if (page.length > 0) yield page;
    }
  }

  async keyword(config: string, text: string, k: number, o: ResolvedSearch): Promise<SearchHit[]> {
    const { cond, params } = remote(o);
    const rows = await this.callShards<{ ordinal: string; id: string; meta: Record<string, unknown> | null; score: number }>("f_keyword", [config, text, k, cond, params], "search the texts");
    return keywordHits(rows)
      .sort((a, b) => b.score - a.score || a.ordinal - b.ordinal)
      .slice(0, k);
  }

  async describe(ordinals: readonly number[]): Promise<DescribedRow[]> {
    return this.callShards<DescribedRow>("f_describe", [ordinals], "read result documents");
  }

  /** One shard function on every live shard: all at once, or one by one after a failure (see the file comment). */
  async callShards<R extends object>(name: ShardFunctionName, args: unknown[], what: string): Promise<R[]> {
    const prefix = this.s.location.prefix;
    const deadline = this.timeoutMs + DEADLINE_GRACE_MS;
    if (this.live === null) {
      try {
        return (await query<R & object>(this.s, what, callSql(prefix, name, args.length, false), args, deadline)).rows;
      } catch (e) {
        await this.shardsFailed(e);
      }
    }
    const rows: R[] = [];
    for (const part of [...(this.live ?? [])]) {
      try {
        rows.push(...(await query<R & object>(this.s, what, callSql(prefix, name, args.length, true), [part, ...args], deadline)).rows);
      } catch (e) {
        await this.shardsFailed(e);
      }
    }
    return rows;
  }

  /**
   * After a failed call: pings each live shard; rethrows `cause` when all answer (the call itself
   * failed), else SHARD_UNAVAILABLE naming the silent ones, unless partial results are allowed and
   * some shard answered, in which case the search goes on without them.
   */
  private async shardsFailed(cause: unknown): Promise<void> {
    if (missedDeadline(cause)) await this.replaceConnection();
    const candidates = this.live ?? this.nodes.map((n) => n.part);
    const down = await this.silentShards(candidates);
    if (down.length === 0) throw cause;
    const names = down.map((n) => nodeName(n));
    const left = candidates.filter((p) => !down.some((n) => n.part === p));
    if (!this.allowPartial || left.length === 0) {
      const why = isColtsError(cause) || cause instanceof Error ? cause.message : String(cause);
      throw new ColtsError("SHARD_UNAVAILABLE", `${this.s.location.redacted}: ${names.join(", ")} ${down.length === 1 ? "is" : "are"} down or did not answer within ${PING_TIMEOUT_MS} ms (${why})`, {
        cause,
        details: { location: this.s.location.redacted, shards: names },
      });
    }
    this.missing.push(...down);
    this.live = left;
  }

  /** The shards among `parts` that do not answer a direct ping within PING_TIMEOUT_MS (pinged all at once). */
  private async silentShards(parts: readonly number[]): Promise<ShardNode[]> {
    const nodes = parts.map((p) => this.nodes[p] as ShardNode);
    const answered = await Promise.all(nodes.map((n) => pingShard(this.s, n, PING_TIMEOUT_MS)));
    return nodes.filter((_, i) => !answered[i]);
  }

  /** A new coordinator connection with the search timeout, after a missed deadline left the old one busy. */
  private async replaceConnection(): Promise<void> {
    await reconnect(this.s);
    if (this.timeoutMs !== this.s.location.statementTimeoutMs) await setTimeoutMs(this.s, this.timeoutMs);
  }
}

/**
 * True when the shard accepts a connection (the coordinator's role) and answers `SELECT 1`, all
 * within `ms`. Direct, not through the coordinator: a frozen shard would block the coordinator's
 * PL/Proxy call past any timeout.
 */
export async function pingShard(coordinator: PgSession, n: ShardNode, ms: number): Promise<boolean> {
  const location = { ...shardLocation(coordinator.location, n), connectTimeoutMs: ms, statementTimeoutMs: 0 };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const attempt = (async (): Promise<boolean> => {
    const s = await connect(location);
    try {
      await query(s, "ping", "SELECT 1", [], ms);
      return true;
    } finally {
      await disconnect(s);
    }
  })().catch(() => false);
  try {
    return await Promise.race([attempt, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Applies a sharded index's search timeout to its coordinator session: the URL's statement_timeout,
 * or DEFAULT_SHARD_TIMEOUT_MS when the URL sets none. Returns it.
 */
export async function applyShardTimeout(s: PgSession): Promise<number> {
  const ms = s.location.statementTimeoutMs === 0 ? DEFAULT_SHARD_TIMEOUT_MS : s.location.statementTimeoutMs;
  if (ms !== s.location.statementTimeoutMs) await setTimeoutMs(s, ms);
  return ms;
}

/** Sets the session's statement timeout (0: none). */
export async function setTimeoutMs(s: PgSession, ms: number): Promise<void> {
  await query(s, "set the statement timeout", "SELECT set_config('statement_timeout', $1::text, false)", [String(ms)]);
}

/** The search's filter and id list as a condition for the shard functions. */
function remote(o: ResolvedSearch): { cond: string; params: string } {
  const { where, params } = condition(o, 1);
  return remoteCondition(where, params, 1);
}
