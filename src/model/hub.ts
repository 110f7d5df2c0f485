/**
 * Model download from the Hugging Face hub (or a mirror) into a local cache.
 *
 * The cache uses the layout of Python's huggingface_hub, so a model fetched by either side is found by
 * the other without a second download:
 *
 *   {cacheDir}/models--{org}--{name}/blobs/{etag}             file contents, named by their etag
 *   {cacheDir}/models--{org}--{name}/snapshots/{commit}/{file} relative symlink to the blob (copy if not possible)
 *   {cacheDir}/models--{org}--{name}/refs/{revision}          the commit hash the revision last pointed at
 *
 * Bytes go to a temporary `blobs/*.incomplete` file and are renamed only when complete (and, for LFS
 * files, when their sha256 matches the etag), so an interrupted download never leaves a file that looks
 * complete. An interrupted download (connection lost, idle timeout) parks what it received as
 * `blobs/{etag}.incomplete`, the name huggingface_hub uses too; the next download of that etag claims
 * it (by an atomic rename, so two processes never append to one file) and asks for the rest with an
 * HTTP Range request, accepted only when the server's Content-Range starts at the partial's size and
 * its total is the file's size; a server that ignores Range (200) sends the whole file again.
 *
 * Every request has a connect timeout (until the response headers) and an idle timeout (between body
 * chunks); either ends it with HUB_TIMEOUT. An `AbortSignal` stops a download at once.
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ColtsError, isColtsError } from "../errors.js";

/** What a download reports, in order per file: initiate, then (download, progress*)? , then done; finally ready. */
export type DownloadProgress =
  /** A file is needed; the cache is checked next. */
  | { status: "initiate"; repo: string; file: string }
  /** The file is not cached; a request for it is being made. */
  | { status: "download"; repo: string; file: string }
  /** Bytes received so far; `total` is null when the server sent no usable length, `progress` is 0..100. */
  | { status: "progress"; repo: string; file: string; loaded: number; total: number | null; progress: number | null }
  /** The file is in the cache; `fromCache` is true when no bytes had to be downloaded for it. */
  | { status: "done"; repo: string; file: string; fromCache: boolean }
  /** Every requested file is in place under `path`, the local snapshot folder. */
  | { status: "ready"; repo: string; path: string };

/** How to reach the Hugging Face hub and its local cache; every default follows huggingface_hub's environment variables. */
export interface HubOptions {
  /** Branch, tag or 40-hex commit hash to download. Default "main". */
  revision?: string;
  /**
   * Cache root. Default: env HF_HUB_CACHE, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
   * else `~/.cache/huggingface/hub` (the same search as Python's huggingface_hub).
   */
  cacheDir?: string;
  /** Hub or mirror base URL, without a trailing slash. Default: env HF_ENDPOINT, else "https://huggingface.co". */
  endpoint?: string;
  /**
   * Never contact the network; use the cache only and fail with HUB_OFFLINE when something is missing.
   * Default: true when env HF_HUB_OFFLINE is "1", "true", "yes" or "on" (any case), else false.
   */
  localFilesOnly?: boolean;
  /**
   * Access token for private or gated repos, sent as `Authorization: Bearer`. Default: env HF_TOKEN,
   * else the file env HF_TOKEN_PATH, else `$HF_HOME/token` (`~/.cache/huggingface/token` when HF_HOME is
   * unset; where `huggingface-cli login` saves it), trimmed; "" means none.
   */
  token?: string;
  /**
   * Milliseconds to wait for a request's response headers (connecting included) before failing with
   * HUB_TIMEOUT. Default: env HF_HUB_ETAG_TIMEOUT (seconds, as huggingface_hub reads it), else 10000.
   * Range: > 0.
   */
  connectTimeoutMs?: number;
  /**
   * Milliseconds without a byte of the body before failing with HUB_TIMEOUT (the bytes received are
   * kept for the next attempt to resume). Default: env HF_HUB_DOWNLOAD_TIMEOUT (seconds), else 10000.
   * Range: > 0.
   */
  idleTimeoutMs?: number;
  /** Aborts every request of the call; the call rejects with the signal's reason. Default: none. */
  signal?: AbortSignal;
  /**
   * Told when a cached snapshot stands in for the hub (resolveModelDir, when the hub cannot be
   * reached). Default: `process.emitWarning` with code COLTS_HUB_FALLBACK.
   */
  onWarning?: (message: string) => void;
  /** Called synchronously for every event; should be cheap (progress events come at most ~10/s per file). */
  onProgress?: (e: DownloadProgress) => void;
  /** HTTP client. Default: the global `fetch`. Tests inject a fake. */
  fetch?: typeof fetch;
  /** Environment read for the defaults above. Default: `process.env`. Tests pass their own to avoid global state. */
  env?: NodeJS.ProcessEnv;
}

/** The effective settings after defaults and environment variables are applied. */
export interface HubSettings {
  /** Branch, tag or commit hash. */
  revision: string;
  /** Absolute path. */
  cacheDir: string;
  /** No trailing slash. */
  endpoint: string;
  /** True: never contact the network. */
  localFilesOnly: boolean;
  /** undefined when no token is configured. */
  token: string | undefined;
  /** Response-header timeout, ms. */
  connectTimeoutMs: number;
  /** Body idle timeout, ms. */
  idleTimeoutMs: number;
}

/** Default of both timeouts: huggingface_hub's (10 s for HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT). */
export const DEFAULT_TIMEOUT_MS = 10_000;

export const DEFAULT_ENDPOINT = "https://huggingface.co";
export const DEFAULT_REVISION = "main";

/** Python's huggingface_hub reads these spellings as true for boolean variables. */
const TRUE_VALUES = new Set(["1", "true", "yes", "on"]);
/** At most one progress event per file per this many ms (plus the final one), so listeners can redraw freely. */
const PROGRESS_INTERVAL_MS = 100;
/** Renamed repos and LFS files answer with redirects; more than this is a loop. */
const MAX_REDIRECTS = 10;
/** One path segment of a repo id: starts and ends with a word character, like huggingface_hub's REPO_ID_REGEX. */
const ID_PART = "[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?";
const HUB_ID = new RegExp(`^(?:${ID_PART}/)?${ID_PART}$`);
/** Names that may become one path component in the cache (commit hashes, etags). */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const COMMIT_HASH = /^[0-9a-f]{40}$/;
/** LFS etags are the sha256 of the content, which lets us verify the bytes. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Applies the defaults of `HubOptions` (environment variables included) to `opts`. */
export function resolveHubSettings(opts: HubOptions = {}): HubSettings {
  const env = opts.env ?? process.env;
  const token = opts.token ?? (env.HF_TOKEN || tokenFromFile(env));
  return {
    revision: opts.revision ?? DEFAULT_REVISION,
    cacheDir: path.resolve(opts.cacheDir ?? defaultCacheDir(env)),
    endpoint: (opts.endpoint ?? (env.HF_ENDPOINT || DEFAULT_ENDPOINT)).replace(/\/+$/, ""),
    localFilesOnly: opts.localFilesOnly ?? TRUE_VALUES.has((env.HF_HUB_OFFLINE ?? "").trim().toLowerCase()),
    token: token === "" ? undefined : token,
    connectTimeoutMs: timeoutMs(opts.connectTimeoutMs, env.HF_HUB_ETAG_TIMEOUT, "connectTimeoutMs"),
    idleTimeoutMs: timeoutMs(opts.idleTimeoutMs, env.HF_HUB_DOWNLOAD_TIMEOUT, "idleTimeoutMs"),
  };
}

/** An option in ms, else an environment variable in seconds, else the default; anything not > 0 is refused. */
function timeoutMs(option: number | undefined, envSeconds: string | undefined, name: string): number {
  const ms = option ?? (envSeconds !== undefined && envSeconds.trim() !== "" ? Number(envSeconds) * 1000 : DEFAULT_TIMEOUT_MS);
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new ColtsError("INPUT_INVALID", `${name} must be a number of milliseconds > 0 (the HF_HUB_*_TIMEOUT variables are seconds), got ${option ?? envSeconds}`, { details: { [name]: option ?? envSeconds } });
  }
  return ms;
}

/** The token huggingface_hub saves on login: HF_TOKEN_PATH, else `$HF_HOME/token`; "" when there is none. */
function tokenFromFile(env: NodeJS.ProcessEnv): string {
  const home = env.HF_HOME ? expandHome(env.HF_HOME, env) : path.join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME, env) : path.join(homeDir(env), ".cache"), "huggingface");
  const file = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH, env) : path.join(home, "token");
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.HF_HUB_CACHE) return expandHome(env.HF_HUB_CACHE, env);
  if (env.HF_HOME) return path.join(expandHome(env.HF_HOME, env), "hub");
  if (env.XDG_CACHE_HOME) return path.join(expandHome(env.XDG_CACHE_HOME, env), "huggingface", "hub");
  return path.join(homeDir(env), ".cache", "huggingface", "hub");
}

function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME || env.USERPROFILE || os.homedir();
}

/** Shells expand `~` but values set from .env files or Docker often arrive unexpanded; Python expands them too. */
function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  return p === "~" || p.startsWith("~/") ? path.join(homeDir(env), p.slice(1)) : p;
}

/** True for `org/name` or `name` hub ids, false for anything that exists on disk (a local folder wins). */
export function isHubId(s: string): boolean {
  return HUB_ID.test(s) && !s.includes("..") && !s.includes("--") && !fs.existsSync(s);
}

// ---------------------------------------------------------------------------------------------------
// Public operations

/** Lists the files of `repo` at the revision. Offline, lists the cached snapshot instead. */
export async function listRepoFiles(repo: string, opts: HubOptions = {}): Promise<{ commit: string; files: string[] }> {
  const ctx = makeContext(repo, opts);
  return ctx.s.localFilesOnly ? listCachedSnapshot(ctx) : listRemote(ctx);
}

/** Returns the local path of one file of `repo`, downloading it unless the cached snapshot already has it. */
export async function downloadFile(repo: string, file: string, opts: HubOptions = {}): Promise<string> {
  const ctx = makeContext(repo, opts);
  checkRelativePath(file, "file");
  return fetchFile(ctx, file, await readRef(ctx), false);
}

/**
 * Downloads every file of `repo` that `allow` accepts (cached ones are not fetched again) and returns
 * the snapshot folder. Offline, returns the cached snapshot folder if it exists and is not empty.
 */
export async function snapshotDownload(repo: string, opts: HubOptions & { allow: (file: string) => boolean }): Promise<string> {
  const ctx = makeContext(repo, opts);
  const folder = ctx.s.localFilesOnly ? await cachedSnapshotFolder(ctx) : await downloadSnapshot(ctx, opts.allow);
  ctx.emit({ status: "ready", repo, path: folder });
  return folder;
}

// ---------------------------------------------------------------------------------------------------
// Context and cache paths

interface Context {
  repo: string;
  s: HubSettings;
  fetch: typeof fetch;
  signal: AbortSignal | undefined;
  emit: (e: DownloadProgress) => void;
  /** `{cacheDir}/models--{org}--{name}` */
  repoDir: string;
}

function makeContext(repo: string, opts: HubOptions): Context {
  if (!HUB_ID.test(repo) || repo.includes("..") || repo.includes("--")) {
    throw new ColtsError("INPUT_INVALID", `"${repo}" is not a Hugging Face model id (expected "org/name" or "name")`, {
      details: { repo },
    });
  }
  const s = resolveHubSettings(opts);
  checkRelativePath(s.revision, "revision");
  const onProgress = opts.onProgress;
  return {
    repo,
    s,
    fetch: opts.fetch ?? fetch,
    signal: opts.signal,
    emit: onProgress ? (e) => onProgress(e) : () => undefined,
    repoDir: path.join(s.cacheDir, `models--${repo.split("/").join("--")}`),
  };
}

/** Rejects paths that could escape the cache folder ("..", absolute paths, backslashes). */
function checkRelativePath(p: string, what: string): void {
  const parts = p.split("/");
  if (p.includes("\\") || p.includes("\0") || parts.some((s) => s === "" || s === "." || s === "..")) {
    throw new ColtsError("INPUT_INVALID", `unsafe ${what} "${p}": expected a relative path with "/" separators`, {
      details: { [what]: p },
    });
  }
}

function snapshotFolder(ctx: Context, commit: string): string {
  return path.join(ctx.repoDir, "snapshots", commit);
}

function snapshotPath(ctx: Context, commit: string, file: string): string {
  return path.join(snapshotFolder(ctx, commit), ...file.split("/"));
}

/** The commit the revision points at in the cache: the revision itself if it is a hash, else `refs/{revision}`. */
async function readRef(ctx: Context): Promise<string | undefined> {
  if (COMMIT_HASH.test(ctx.s.revision)) return ctx.s.revision;
  try {
    const commit = (await fsp.readFile(path.join(ctx.repoDir, "refs", ...ctx.s.revision.split("/")), "utf8")).trim();
    return SAFE_NAME.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Records which commit the revision resolved to; written via rename so readers never see half a hash. */
async function writeRef(ctx: Context, commit: string): Promise<void> {
  if (commit === ctx.s.revision) return;
  const ref = path.join(ctx.repoDir, "refs", ...ctx.s.revision.split("/"));
  await fsp.mkdir(path.dirname(ref), { recursive: true });
  const tmp = `${ref}.${randomBytes(6).toString("hex")}.tmp`;
  await fsp.writeFile(tmp, commit);
  await fsp.rename(tmp, ref);
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile(); // follows the symlink: a pointer to a deleted blob is not a file
  } catch {
    return false;
  }
}

/** Every file under `root` as a posix path relative to it (symlinks to files count as files). */
async function walkFiles(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await fsp.readdir(path.join(root, prefix))).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = await fsp.stat(path.join(root, rel)).catch(() => undefined);
    if (st?.isDirectory()) out.push(...(await walkFiles(root, rel)));
    else if (st?.isFile()) out.push(rel);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Offline paths

/**
 * The cached snapshot folder of `repo` at the revision (a commit hash, or the commit `refs/{revision}`
 * names), when it is complete: it has files and every one of them resolves to a blob (a snapshot's ref
 * is written only after all its files are in place). Undefined otherwise. Never contacts the network.
 */
export async function completeCachedSnapshot(repo: string, opts: HubOptions = {}): Promise<string | undefined> {
  const ctx = makeContext(repo, opts);
  const commit = await readRef(ctx);
  if (commit === undefined) return undefined;
  const folder = snapshotFolder(ctx, commit);
  const entries = await fsp.readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  const pointers = entries.filter((e) => !e.isDirectory());
  if (pointers.length === 0) return undefined;
  for (const e of pointers) if (!(await isFile(path.join(e.parentPath ?? e.path, e.name)))) return undefined;
  return folder;
}

async function cachedSnapshotFolder(ctx: Context): Promise<string> {
  const commit = await readRef(ctx);
  const folder = commit === undefined ? undefined : snapshotFolder(ctx, commit);
  const entries = folder === undefined ? [] : await fsp.readdir(folder).catch(() => []);
  if (folder === undefined || entries.length === 0) throw offlineError(ctx, []);
  return folder;
}

async function listCachedSnapshot(ctx: Context): Promise<{ commit: string; files: string[] }> {
  const folder = await cachedSnapshotFolder(ctx);
  return { commit: path.basename(folder), files: await walkFiles(folder) };
}

function offlineError(ctx: Context, missing: string[]): ColtsError {
  const what = missing.length > 0 ? `file(s) ${missing.join(", ")} of "${ctx.repo}"` : `"${ctx.repo}"`;
  return new ColtsError(
    "HUB_OFFLINE",
    `${what} (revision "${ctx.s.revision}") not found in the cache at ${ctx.s.cacheDir}, and hub access is disabled ` +
      `(HF_HUB_OFFLINE or localFilesOnly). To fix: unset HF_HUB_OFFLINE / pass localFilesOnly: false to download it once ` +
      `(from HF_ENDPOINT if you set it to a reachable mirror), or pass a local model folder instead of a hub id.`,
    { details: { repo: ctx.repo, revision: ctx.s.revision, cacheDir: ctx.s.cacheDir, ...(missing.length ? { files: missing } : {}) } },
  );
}

// ---------------------------------------------------------------------------------------------------
// Online paths

async function downloadSnapshot(ctx: Context, allow: (file: string) => boolean): Promise<string> {
  const { commit, files } = await listRemote(ctx);
  // Sequential on purpose: model repos have few files, one of them big, and one bar at a time reads well.
  for (const file of files.filter(allow)) await fetchFile(ctx, file, commit, true);
  await fsp.mkdir(snapshotFolder(ctx, commit), { recursive: true });
  await writeRef(ctx, commit); // only now: a half-downloaded snapshot must not become the offline answer
  return snapshotFolder(ctx, commit);
}

async function listRemote(ctx: Context): Promise<{ commit: string; files: string[] }> {
  const url = `${ctx.s.endpoint}/api/models/${ctx.repo}/revision/${encodeURIComponent(ctx.s.revision)}`;
  const answer = await getFollowingRedirects(ctx, url, undefined);
  const parts: Uint8Array[] = [];
  await pump(ctx, undefined, answer, url, { write: (b) => (parts.push(b), Promise.resolve()), hash: undefined, total: null, start: 0, resumable: false });
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(parts).toString("utf8"));
  } catch (cause) {
    throw badAnswer(ctx, url, "the answer is not JSON", cause);
  }
  return parseListing(ctx, body, url);
}

function parseListing(ctx: Context, body: unknown, url: string): { commit: string; files: string[] } {
  if (!isRecord(body) || typeof body.sha !== "string" || !SAFE_NAME.test(body.sha) || !Array.isArray(body.siblings)) {
    throw badAnswer(ctx, url, "expected JSON with a commit `sha` and a `siblings` array", undefined);
  }
  const files: string[] = [];
  for (const sibling of body.siblings as unknown[]) {
    if (!isRecord(sibling) || typeof sibling.rfilename !== "string") throw badAnswer(ctx, url, "a sibling has no rfilename", undefined);
    checkRelativePath(sibling.rfilename, "file");
    files.push(sibling.rfilename);
  }
  return { commit: body.sha, files };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Cache first, then network. `commit` is the snapshot to look in (undefined: revision not seen yet);
 * `pinned` downloads by that commit rather than by the revision, so every file of a snapshot comes from
 * the same commit even if the branch moves meanwhile (as Python's snapshot_download does).
 */
async function fetchFile(ctx: Context, file: string, commit: string | undefined, pinned: boolean): Promise<string> {
  ctx.emit({ status: "initiate", repo: ctx.repo, file });
  const cached = commit === undefined ? undefined : snapshotPath(ctx, commit, file);
  if (cached !== undefined && (await isFile(cached))) {
    ctx.emit({ status: "done", repo: ctx.repo, file, fromCache: true });
    return cached;
  }
  if (ctx.s.localFilesOnly) throw offlineError(ctx, [file]);
  return downloadIntoCache(ctx, file, pinned ? commit : undefined);
}

async function downloadIntoCache(ctx: Context, file: string, pinnedCommit: string | undefined): Promise<string> {
  const revision = pinnedCommit ?? ctx.s.revision;
  const encodedFile = file.split("/").map(encodeURIComponent).join("/");
  const url = `${ctx.s.endpoint}/${ctx.repo}/resolve/${encodeURIComponent(revision)}/${encodedFile}`;
  ctx.emit({ status: "download", repo: ctx.repo, file });
  const opened = await getFollowingRedirects(ctx, url, file);
  const commit = pinnedCommit ?? safeName(opened.commit) ?? safeName(ctx.s.revision) ?? encodeURIComponent(ctx.s.revision);
  const blobs = path.join(ctx.repoDir, "blobs");
  await fsp.mkdir(blobs, { recursive: true });
  const known = safeName(opened.etag);
  // same content already cached (under another snapshot): no need for the body
  const reuse = known !== undefined && (await isFile(path.join(blobs, known)));
  if (reuse) await opened.res.body?.cancel();
  const etag = reuse ? known : await streamToBlob(ctx, file, opened, url, known);
  const local = await linkSnapshot(ctx, commit, file, etag);
  if (pinnedCommit === undefined) await writeRef(ctx, commit); // snapshots write theirs once complete
  ctx.emit({ status: "done", repo: ctx.repo, file, fromCache: reuse });
  return local;
}

/** Strips the quotes and weak marker of an etag; undefined unless usable as a file name. */
function safeName(v: string | null | undefined): string | undefined {
  const s = v?.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
  return s !== undefined && SAFE_NAME.test(s) ? s : undefined;
}

interface HubAnswer {
  res: Response;
  commit: string | undefined;
  etag: string | undefined;
  /** The URL that answered (after redirects), and whether the token may go there. */
  url: string;
  onHub: boolean;
  /** Aborts this request (its body read rejects). */
  abort: (reason: unknown) => void;
}

/**
 * GETs `url` following redirects by hand, for two reasons: the hub answers LFS files with a redirect to
 * a CDN, and the file's identity (x-repo-commit, x-linked-etag) is on the hub's redirect, not on the
 * CDN's answer, whose etag means something else; and the token must go to the hub's origin only.
 * Error answers become ColtsErrors; `file` names the file in them (undefined for the listing).
 */
async function getFollowingRedirects(ctx: Context, url: string, file: string | undefined): Promise<HubAnswer> {
  const hubOrigin = new URL(ctx.s.endpoint).origin;
  let current = new URL(url);
  let commit: string | undefined;
  let etag: string | undefined;
  let leftHub = false;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const onHub = !leftHub && current.origin === hubOrigin;
    const { res, abort } = await send(ctx, current.href, onHub);
    if (onHub) {
      commit ??= res.headers.get("x-repo-commit") ?? undefined;
      etag ??= res.headers.get("x-linked-etag") ?? undefined;
    }
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.body?.cancel();
      const next = new URL(location, current);
      if (onHub && next.origin !== hubOrigin) {
        etag ??= res.headers.get("etag") ?? undefined;
        leftHub = true;
      }
      current = next;
      continue;
    }
    if (!res.ok) throw await httpError(ctx, res, current.href, file);
    if (onHub) etag ??= res.headers.get("etag") ?? undefined;
    return { res, commit, etag, url: current.href, onHub, abort };
  }
  throw badAnswer(ctx, url, `more than ${MAX_REDIRECTS} redirects`, undefined);
}

/**
 * One GET with the connect timeout: the response headers must arrive within `connectTimeoutMs`.
 * Returns the response and a function that aborts it (the body read then rejects).
 */
async function send(ctx: Context, url: string, withToken: boolean, range?: number): Promise<{ res: Response; abort: (reason: unknown) => void }> {
  // identity: content-length must be the file size, for progress and to detect truncated bodies
  const headers: Record<string, string> = { "accept-encoding": "identity", "user-agent": "colts" };
  if (withToken && ctx.s.token !== undefined) headers.authorization = `Bearer ${ctx.s.token}`;
  if (range !== undefined) headers.range = `bytes=${range}-`;
  ctx.signal?.throwIfAborted();
  const ac = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, ac.signal]) : ac.signal;
  const abort = (reason: unknown): void => ac.abort(reason);
  const doFetch = ctx.fetch;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = timeoutError(ctx, url, "connect", ctx.s.connectTimeoutMs);
      abort(e);
      reject(e);
    }, ctx.s.connectTimeoutMs);
  });
  try {
    const res = await Promise.race([doFetch(url, { headers, redirect: "manual", signal }), timedOut]);
    return { res, abort };
  } catch (cause) {
    if (cause instanceof ColtsError) throw cause;
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    throw unreachable(ctx, url, cause);
  } finally {
    clearTimeout(timer);
  }
}

/** One body read that fails with HUB_TIMEOUT when no bytes come for `idleTimeoutMs` (and aborts the request). */
async function readIdle(ctx: Context, reader: ReadableStreamDefaultReader<Uint8Array>, answer: HubAnswer, url: string, resumable: boolean): Promise<{ done: boolean; value?: Uint8Array }> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = timeoutError(ctx, url, "idle", ctx.s.idleTimeoutMs, resumable);
      answer.abort(e);
      reader.cancel(e).catch(() => undefined);
      reject(e);
    }, ctx.s.idleTimeoutMs);
  });
  try {
    return await Promise.race([reader.read(), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Streams the body into the blob `{etag}` (or its sha256 when the server sent no etag), resuming a
 * parked partial of the same etag with a Range request. Anything short of a complete, verified body
 * leaves no blob: an interrupted transfer parks its bytes as `{etag}.incomplete` for the next attempt,
 * any other failure (a bad checksum) removes them.
 */
async function streamToBlob(ctx: Context, file: string, opened: HubAnswer, url: string, etag: string | undefined): Promise<string> {
  const blobs = path.join(ctx.repoDir, "blobs");
  const claim = await claimPartial(blobs, etag);
  const fullTotal = opened.res.headers.has("content-encoding") ? null : contentLength(opened.res);
  let handle: fsp.FileHandle | undefined;
  let ok = false;
  // Until shown otherwise (a bad checksum, too many bytes), what the temporary file holds is a valid
  // prefix of the file: a failure parks it for the next attempt (the claimed partial included).
  let park = true;
  try {
    let answer = opened;
    let start = 0;
    if (claim.have > 0 && (fullTotal === null || claim.have < fullTotal)) {
      await opened.res.body?.cancel().catch(() => undefined);
      const ranged = await send(ctx, opened.url, opened.onHub, claim.have);
      const range = parseContentRange(ranged.res.headers.get("content-range"));
      const remaining = contentLength(ranged.res);
      if (
        ranged.res.status === 206 &&
        range !== null &&
        range.start === claim.have &&
        (fullTotal === null || range.total === fullTotal) &&
        (range.total === null || remaining === null || remaining === range.total - range.start)
      ) {
        answer = { ...opened, res: ranged.res, abort: ranged.abort };
        start = claim.have;
      } else if (ranged.res.status === 200) {
        answer = { ...opened, res: ranged.res, abort: ranged.abort }; // Range ignored: the whole file again
      } else {
        // 416 or a Content-Range that does not fit the partial: ask for the whole file.
        await ranged.res.body?.cancel().catch(() => undefined);
        if (ranged.res.status >= 400 && ranged.res.status !== 416) throw await httpError(ctx, ranged.res, opened.url, file);
        const again = await send(ctx, opened.url, opened.onHub);
        if (!again.res.ok) throw await httpError(ctx, again.res, opened.url, file);
        answer = { ...opened, res: again.res, abort: again.abort };
      }
    }
    // Not resuming: whatever the claimed partial held is replaced ("w" truncates).
    const total = fullTotal ?? (answer.res.headers.has("content-encoding") ? null : contentLength(answer.res));
    const hash = createHash("sha256");
    if (start > 0) for await (const chunk of fs.createReadStream(claim.tmp)) hash.update(chunk as Buffer);
    handle = await fsp.open(claim.tmp, start > 0 ? "a" : "w");
    const h = handle;
    const loaded = await pump(ctx, file, answer, url, { write: (b) => h.write(b), hash, total, start, resumable: etag !== undefined });
    await handle.close();
    handle = undefined;
    if (total !== null && loaded !== total) {
      park = loaded < total;
      throw interrupted(ctx, file, url, loaded, total, undefined, park && etag !== undefined);
    }
    const digest = hash.digest("hex");
    if (etag !== undefined && SHA256_HEX.test(etag) && digest !== etag) {
      park = false;
      throw badAnswer(ctx, url, `content sha256 ${digest} does not match the etag ${etag}`, undefined);
    }
    const name = etag ?? digest;
    await fsp.rename(claim.tmp, path.join(blobs, name));
    ok = true;
    return name;
  } finally {
    if (!ok) {
      await handle?.close().catch(() => undefined);
      const size = (await fsp.stat(claim.tmp).catch(() => undefined))?.size ?? 0;
      if (park && etag !== undefined && size > 0) await fsp.rename(claim.tmp, path.join(blobs, `${etag}.incomplete`)).catch(() => fsp.rm(claim.tmp, { force: true }));
      else await fsp.rm(claim.tmp, { force: true });
    }
  }
}

/**
 * A temporary file of this download: the parked partial `{etag}.incomplete` when there is one, moved
 * to a unique name (a rename: of two processes only one gets it), else a new unique name.
 */
async function claimPartial(blobs: string, etag: string | undefined): Promise<{ tmp: string; have: number }> {
  const tmp = path.join(blobs, `${etag ?? "download"}.${process.pid}-${randomBytes(6).toString("hex")}.incomplete`);
  if (etag !== undefined) {
    try {
      await fsp.rename(path.join(blobs, `${etag}.incomplete`), tmp);
      return { tmp, have: (await fsp.stat(tmp)).size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return { tmp, have: 0 };
}

/** `bytes START-END/TOTAL` (TOTAL may be "*"); null when malformed. */
function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v?.trim() ?? "");
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === "*" ? null : Number(m[3]);
  if (end < start || (total !== null && end >= total)) return null;
  return { start, end, total };
}

function contentLength(res: Response): number | null {
  const n = Number(res.headers.get("content-length") ?? NaN);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

interface Sink {
  write: (bytes: Uint8Array) => Promise<unknown>;
  /** Fed every byte (undefined: no checksum wanted). */
  hash: Hash | undefined;
  /** Bytes of the whole file, or null when unknown. */
  total: number | null;
  /** Bytes already in hand before this body (a resumed download); counted in `loaded`. */
  start: number;
  /** True when an interruption keeps the bytes for the next attempt (said in the error). */
  resumable: boolean;
}

/**
 * Copies the body into the sink, each read under the idle timeout, emitting throttled progress events
 * (none when `file` is undefined: the listing); returns the byte count, `sink.start` included.
 */
async function pump(ctx: Context, file: string | undefined, answer: HubAnswer, url: string, sink: Sink): Promise<number> {
  const reader = answer.res.body?.getReader();
  const report = (loaded: number): void => {
    if (file === undefined) return;
    ctx.emit({
      status: "progress",
      repo: ctx.repo,
      file,
      loaded,
      total: sink.total,
      progress: sink.total ? Math.min(100, (loaded / sink.total) * 100) : sink.total === 0 ? 100 : null,
    });
  };
  let loaded = sink.start;
  let last = Date.now();
  for (;;) {
    let chunk: { done: boolean; value?: Uint8Array } | undefined;
    try {
      chunk = reader === undefined ? undefined : await readIdle(ctx, reader, answer, url, sink.resumable);
    } catch (cause) {
      if (cause instanceof ColtsError) throw cause;
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      throw interrupted(ctx, file ?? "the file list", url, loaded, sink.total, cause, sink.resumable);
    }
    if (chunk?.value === undefined) break; // done (or no body at all)
    sink.hash?.update(chunk.value);
    await sink.write(chunk.value);
    loaded += chunk.value.byteLength;
    if (Date.now() - last >= PROGRESS_INTERVAL_MS) {
      last = Date.now();
      report(loaded);
    }
  }
  report(loaded);
  return loaded;
}

/**
 * Points `snapshots/{commit}/{file}` at the blob with a relative symlink (so the cache can be moved),
 * or copies the blob where symlinks are not allowed (Windows without developer mode). Built under a
 * temp name and renamed, so an existing pointer is replaced atomically and never copied onto itself.
 */
async function linkSnapshot(ctx: Context, commit: string, file: string, etag: string): Promise<string> {
  const pointer = snapshotPath(ctx, commit, file);
  const blob = path.join(ctx.repoDir, "blobs", etag);
  await fsp.mkdir(path.dirname(pointer), { recursive: true });
  const tmp = `${pointer}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await fsp.symlink(path.relative(path.dirname(pointer), blob), tmp);
  } catch {
    await fsp.copyFile(blob, tmp);
  }
  await fsp.rename(tmp, pointer);
  return pointer;
}

// ---------------------------------------------------------------------------------------------------
// Errors

function details(ctx: Context, url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { repo: ctx.repo, revision: ctx.s.revision, endpoint: ctx.s.endpoint, url, cacheDir: ctx.s.cacheDir, ...extra };
}

/** Maps an HTTP error answer to a ColtsError; the body is drained so the connection can be reused. */
async function httpError(ctx: Context, res: Response, url: string, file: string | undefined): Promise<ColtsError> {
  await res.body?.cancel().catch(() => undefined);
  const hubSays = res.headers.get("x-error-message");
  const answer = `GET ${url} answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${hubSays ? ` (${hubSays})` : ""}`;
  const d = details(ctx, url, { status: res.status, ...(file === undefined ? {} : { file }) });
  if (res.status === 404) {
    const what = file === undefined ? `model "${ctx.repo}"` : `file "${file}" of model "${ctx.repo}"`;
    return new ColtsError(
      "MODEL_NOT_FOUND",
      `${what} not found: ${answer}. Check the model id, the revision "${ctx.s.revision}"` +
        `${file === undefined ? "" : " and the file name"}, and for a private repo set HF_TOKEN.`,
      { details: d },
    );
  }
  if (res.status === 401 || res.status === 403) {
    const fix =
      ctx.s.token === undefined
        ? "set HF_TOKEN (or the token option, or log in so that $HF_HOME/token holds one) to an access token that may read it"
        : "the token from HF_TOKEN ($HF_HOME/token, or the token option) was refused: check it is valid and has access (gated repos need the terms accepted)";
    return new ColtsError("HUB_REQUEST_FAILED", `${answer}: "${ctx.repo}" is private, gated or does not exist; ${fix}.`, {
      details: d,
    });
  }
  return new ColtsError("HUB_REQUEST_FAILED", `${answer}; retry later or set HF_ENDPOINT to another mirror.`, { details: d });
}

function unreachable(ctx: Context, url: string, cause: unknown): ColtsError {
  return new ColtsError(
    "HUB_REQUEST_FAILED",
    `could not reach the hub at ${ctx.s.endpoint} (${describeCause(cause)}) for GET ${url}. ` +
      `Set HF_ENDPOINT to a reachable mirror, set HF_HUB_OFFLINE=1 to use the cache at ${ctx.s.cacheDir} if "${ctx.repo}" ` +
      `was downloaded before, or pass a local model folder instead of a hub id.`,
    { cause, details: details(ctx, url, { network: true }) },
  );
}

function interrupted(ctx: Context, file: string, url: string, loaded: number, total: number | null, cause: unknown, kept = false): ColtsError {
  const reason = cause === undefined ? "connection closed early" : describeCause(cause);
  const next = kept ? "the bytes received are kept in the cache and the next run resumes from there" : "run again to retry";
  return new ColtsError(
    "HUB_REQUEST_FAILED",
    `download of "${file}" from ${url} was interrupted after ${loaded} of ${total ?? "?"} bytes (${reason}); ${next}.`,
    { ...(cause === undefined ? {} : { cause }), details: details(ctx, url, { file, loaded, total, network: true }) },
  );
}

function timeoutError(ctx: Context, url: string, phase: "connect" | "idle", ms: number, resumable = false): ColtsError {
  const what =
    phase === "connect"
      ? `no answer within ${ms} ms (connect timeout: HF_HUB_ETAG_TIMEOUT or connectTimeoutMs)`
      : `no data for ${ms} ms (idle timeout: HF_HUB_DOWNLOAD_TIMEOUT or idleTimeoutMs)${resumable ? "; the bytes received are kept for the next run to resume" : ""}`;
  return new ColtsError("HUB_TIMEOUT", `GET ${url}: ${what}. Retry, raise the timeout, or set HF_ENDPOINT to another mirror.`, {
    details: details(ctx, url, { phase, timeoutMs: ms, network: true }),
  });
}

/**
 * True for a failure to talk to the hub at all (unreachable, timed out, connection lost), as opposed
 * to an answer (404, 401, a bad checksum): the failures after which a cached snapshot may stand in.
 */
export function isHubNetworkError(e: unknown): boolean {
  return isColtsError(e, "HUB_TIMEOUT") || (isColtsError(e, "HUB_REQUEST_FAILED") && e.details?.["network"] === true);
}

function badAnswer(ctx: Context, url: string, what: string, cause: unknown): ColtsError {
  return new ColtsError("HUB_REQUEST_FAILED", `unexpected answer from GET ${url}: ${what}. Is ${ctx.s.endpoint} a Hugging Face hub or mirror?`, {
    ...(cause === undefined ? {} : { cause }),
    details: details(ctx, url),
  });
}

/** fetch reports "fetch failed" and hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
function describeCause(e: unknown): string {
  const inner = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  if (inner instanceof Error) {
    const code = (inner as NodeJS.ErrnoException).code;
    return code && !inner.message.includes(code) ? `${code}: ${inner.message}` : inner.message;
  }
  return String(inner);
}
