import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { isColtsError, type ColtsError, type ErrorCode } from "../../src/errors.js";
import {
  downloadFile,
  isHubId,
  listRepoFiles,
  resolveHubSettings,
  snapshotDownload,
  type DownloadProgress,
  type HubOptions,
} from "../../src/model/hub.js";
import { resolveModelDir } from "../../src/model/resolve.js";
import { startHubServer, type HubServer } from "../helpers/hub-server.js";

const REPO = "org/tiny";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
/** Big enough for several body chunks, so progress and interruption have something to cut. */
const BIG = randomBytes(300_000);
const FILES: Record<string, string | Buffer> = {
  "config.json": '{"hidden_size": 8}',
  "tokenizer.json": '{"model": {}}',
  "onnx/model.onnx": BIG,
  "README.md": "# not downloaded",
};
const allow = (f: string): boolean => f !== "README.md";

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeRepo(dir: string): string {
  const root = path.join(dir, "repo");
  for (const [name, content] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  return root;
}

interface Fixture {
  server: HubServer;
  cacheDir: string;
  events: DownloadProgress[];
  /** Options every call of the test shares: an empty env so the machine's HF_* variables do not leak in. */
  opts: HubOptions;
}

async function fixture(t: TestContext, extra: { requireToken?: string } = {}): Promise<Fixture> {
  const dir = tempDir(t);
  const server = await startHubServer(writeRepo(dir), { repo: REPO, commit: COMMIT, ...extra });
  t.after(() => server.close());
  const events: DownloadProgress[] = [];
  const cacheDir = path.join(dir, "cache");
  return { server, cacheDir, events, opts: { endpoint: server.endpoint, cacheDir, env: {}, onProgress: (e) => events.push(e) } };
}

const sha256 = (b: string | Buffer): string => createHash("sha256").update(b).digest("hex");
const resolves = (requests: string[]): string[] => requests.filter((r) => r.includes("/resolve/"));

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<ColtsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isColtsError(e, code), `expected ${code}, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** Every file under `dir` as posix paths, or [] when it does not exist. */
function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTree(path.join(dir, e.name)).map((p) => `${e.name}/${p}`) : [e.name],
  );
}

test("first snapshotDownload fetches the allowed files with progress events and writes the cache layout", async (t) => {
  const f = await fixture(t);
  const folder = await snapshotDownload(REPO, { ...f.opts, allow });
  const repoDir = path.join(f.cacheDir, "models--org--tiny");
  assert.equal(folder, path.join(repoDir, "snapshots", COMMIT));
  assert.equal(fs.readFileSync(path.join(repoDir, "refs", "main"), "utf8"), COMMIT);
  for (const name of ["config.json", "tokenizer.json", "onnx/model.onnx"]) {
    const pointer = path.join(folder, name);
    const content = FILES[name]!;
    assert.ok(fs.lstatSync(pointer).isSymbolicLink(), `${name} is a symlink`);
    const target = fs.readlinkSync(pointer);
    assert.ok(!path.isAbsolute(target), `${name} links relatively (${target})`);
    assert.equal(path.resolve(path.dirname(pointer), target), path.join(repoDir, "blobs", sha256(content)));
    assert.deepEqual(fs.readFileSync(pointer), Buffer.from(content));
  }
  assert.ok(!fs.existsSync(path.join(folder, "README.md")), "files not allowed are not downloaded");
  assert.deepEqual(listTree(path.join(repoDir, "blobs")).filter((b) => b.endsWith(".incomplete")), []);
  // snapshots are downloaded by commit, so all files come from the listed commit
  assert.equal(f.server.requests.length, 4);
  assert.ok(resolves(f.server.requests).every((r) => r.startsWith(`/${REPO}/resolve/${COMMIT}/`)));

  const forModel = f.events.filter((e) => "file" in e && e.file === "onnx/model.onnx").map((e) => e.status);
  assert.deepEqual([forModel[0], forModel[1], forModel.at(-1)], ["initiate", "download", "done"]);
  assert.ok(forModel.slice(2, -1).every((s) => s === "progress") && forModel.length >= 4);
  const lastProgress = f.events.filter((e) => e.status === "progress" && e.file === "onnx/model.onnx").at(-1);
  assert.deepEqual(lastProgress, { status: "progress", repo: REPO, file: "onnx/model.onnx", loaded: BIG.length, total: BIG.length, progress: 100 });
  const dones = f.events.filter((e) => e.status === "done");
  assert.deepEqual(dones.map((e) => e.fromCache), [false, false, false]);
  assert.deepEqual(f.events.at(-1), { status: "ready", repo: REPO, path: folder });
});

test("a second snapshotDownload makes no resolve request and reports cache hits", async (t) => {
  const f = await fixture(t);
  const first = await snapshotDownload(REPO, { ...f.opts, allow });
  f.events.length = 0;
  const before = resolves(f.server.requests).length;
  const second = await snapshotDownload(REPO, { ...f.opts, allow });
  assert.equal(second, first);
  assert.equal(resolves(f.server.requests).length, before);
  const dones = f.events.filter((e) => e.status === "done");
  assert.equal(dones.length, 3);
  assert.ok(dones.every((e) => e.fromCache));
  assert.ok(!f.events.some((e) => e.status === "download" || e.status === "progress"));
});

test("when the branch moves to a new commit, blobs with a known etag are linked, not downloaded again", async (t) => {
  const f = await fixture(t);
  await snapshotDownload(REPO, { ...f.opts, allow });
  const moved = "fedcba9876543210fedcba9876543210fedcba98";
  const next = await startHubServer(path.join(path.dirname(f.cacheDir), "repo"), { repo: REPO, commit: moved });
  t.after(() => next.close());
  f.events.length = 0;
  const folder = await snapshotDownload(REPO, { ...f.opts, endpoint: next.endpoint, allow });
  const repoDir = path.join(f.cacheDir, "models--org--tiny");
  assert.equal(folder, path.join(repoDir, "snapshots", moved));
  assert.equal(fs.readFileSync(path.join(repoDir, "refs", "main"), "utf8"), moved);
  assert.equal(resolves(next.requests).length, 3, "asked for the files' identity");
  assert.ok(!f.events.some((e) => e.status === "progress"), "but read no body");
  assert.ok(f.events.filter((e) => e.status === "done").every((e) => e.fromCache));
  assert.equal(listTree(path.join(repoDir, "blobs")).length, 3);
  assert.deepEqual(fs.readFileSync(path.join(folder, "onnx", "model.onnx")), BIG);
});

test("downloadFile fetches one nested file, then answers from the cache without any request", async (t) => {
  const f = await fixture(t);
  const local = await downloadFile(REPO, "onnx/model.onnx", f.opts);
  assert.equal(local, path.join(f.cacheDir, "models--org--tiny", "snapshots", COMMIT, "onnx", "model.onnx"));
  assert.deepEqual(fs.readFileSync(local), BIG);
  assert.deepEqual(f.server.requests, [`/${REPO}/resolve/main/onnx/model.onnx`]);
  assert.equal(fs.readFileSync(path.join(f.cacheDir, "models--org--tiny", "refs", "main"), "utf8"), COMMIT);
  assert.equal(await downloadFile(REPO, "onnx/model.onnx", f.opts), local);
  assert.equal(f.server.requests.length, 1);
});

test("offline with an empty cache fails with HUB_OFFLINE naming the repo, and contacts nobody", async (t) => {
  const f = await fixture(t);
  const offline = { ...f.opts, env: { HF_HUB_OFFLINE: "1" } };
  const e = await rejectsWith(snapshotDownload(REPO, { ...offline, allow }), "HUB_OFFLINE");
  assert.match(e.message, /org\/tiny/);
  assert.ok(e.message.includes(f.cacheDir), "names the cache folder");
  assert.match(e.message, /HF_HUB_OFFLINE/);
  assert.match(e.message, /local model folder/);
  assert.deepEqual(e.details, { repo: REPO, revision: "main", cacheDir: f.cacheDir });
  const e2 = await rejectsWith(downloadFile(REPO, "config.json", offline), "HUB_OFFLINE");
  assert.match(e2.message, /config\.json.*org\/tiny/);
  await rejectsWith(listRepoFiles(REPO, offline), "HUB_OFFLINE");
  assert.deepEqual(f.server.requests, []);
});

test("offline with a warm cache works without any request", async (t) => {
  const f = await fixture(t);
  const folder = await snapshotDownload(REPO, { ...f.opts, allow });
  const seen = f.server.requests.length;
  const offline = { ...f.opts, localFilesOnly: true };
  assert.equal(await snapshotDownload(REPO, { ...offline, allow }), folder);
  assert.equal(await downloadFile(REPO, "onnx/model.onnx", offline), path.join(folder, "onnx", "model.onnx"));
  assert.equal(await downloadFile(REPO, "config.json", { ...offline, revision: COMMIT }), path.join(folder, "config.json"));
  assert.deepEqual(await listRepoFiles(REPO, offline), { commit: COMMIT, files: ["config.json", "onnx/model.onnx", "tokenizer.json"] });
  // a file the snapshot lacks is not fetched either
  const e = await rejectsWith(downloadFile(REPO, "README.md", offline), "HUB_OFFLINE");
  assert.deepEqual(e.details?.files, ["README.md"]);
  assert.equal(f.server.requests.length, seen);
});

test("listRepoFiles returns the commit and every file of the revision", async (t) => {
  const f = await fixture(t);
  assert.deepEqual(await listRepoFiles(REPO, f.opts), { commit: COMMIT, files: ["README.md", "config.json", "onnx/model.onnx", "tokenizer.json"] });
  assert.deepEqual(f.server.requests, [`/api/models/${REPO}/revision/main`]);
});

test("an unknown repo, revision or file is MODEL_NOT_FOUND naming the URL tried", async (t) => {
  const f = await fixture(t);
  const e = await rejectsWith(snapshotDownload("org/missing", { ...f.opts, allow }), "MODEL_NOT_FOUND");
  assert.ok(e.message.includes(`${f.server.endpoint}/api/models/org/missing/revision/main`), e.message);
  assert.match(e.message, /model id/);
  assert.equal(e.details?.status, 404);
  const e2 = await rejectsWith(snapshotDownload(REPO, { ...f.opts, allow, revision: "v9" }), "MODEL_NOT_FOUND");
  assert.match(e2.message, /revision "v9"/);
  const e3 = await rejectsWith(downloadFile(REPO, "nope.bin", f.opts), "MODEL_NOT_FOUND");
  assert.match(e3.message, /nope\.bin/);
  assert.equal(listTree(path.join(f.cacheDir, "models--org--tiny", "blobs")).length, 0);
});

test("an unreachable hub is HUB_REQUEST_FAILED naming the endpoint, with hints and the cause", async (t) => {
  const f = await fixture(t);
  await f.server.close();
  const e = await rejectsWith(snapshotDownload(REPO, { ...f.opts, allow }), "HUB_REQUEST_FAILED");
  assert.ok(e.message.includes(f.server.endpoint), e.message);
  assert.match(e.message, /ECONNREFUSED/);
  assert.match(e.message, /HF_ENDPOINT/);
  assert.match(e.message, /HF_HUB_OFFLINE=1/);
  assert.match(e.message, /local model folder/);
  assert.ok(e.cause instanceof Error);
  await rejectsWith(downloadFile(REPO, "config.json", f.opts), "HUB_REQUEST_FAILED");
});

test("the token is sent as a bearer token; without it or with a wrong one the error mentions HF_TOKEN", async (t) => {
  const f = await fixture(t, { requireToken: "hf_secret" });
  const missing = await rejectsWith(snapshotDownload(REPO, { ...f.opts, allow }), "HUB_REQUEST_FAILED");
  assert.match(missing.message, /401/);
  assert.match(missing.message, /set HF_TOKEN/);
  const wrong = await rejectsWith(snapshotDownload(REPO, { ...f.opts, allow, token: "hf_wrong" }), "HUB_REQUEST_FAILED");
  assert.match(wrong.message, /HF_TOKEN.*refused/);
  const folder = await snapshotDownload(REPO, { ...f.opts, allow, env: { HF_TOKEN: "hf_secret" } });
  assert.ok(fs.existsSync(path.join(folder, "onnx", "model.onnx")));
  assert.ok(await downloadFile(REPO, "README.md", { ...f.opts, token: "hf_secret" }));
});

/** A local server whose handler the test writes by hand, for answers the hub helper does not give. */
async function rawServer(t: TestContext, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A one-file repo ("big.bin" = BIG) whose download answers follow `plan`, one entry per resolve request
 * (the last repeats): "cut" sends half the body then closes the connection, "stall-body" sends half
 * then nothing, "stall-head" never answers, "full" sends everything with 200 (ignoring Range),
 * "range" honours a Range header with 206, "bad-range" answers 206 with a Content-Range that does not
 * start where asked. Records each resolve request's Range header.
 */
async function plannedServer(t: TestContext, plan: ("cut" | "stall-body" | "stall-head" | "full" | "range" | "bad-range")[]): Promise<{ endpoint: string; ranges: (string | undefined)[] }> {
  const ranges: (string | undefined)[] = [];
  const endpoint = await rawServer(t, (req, res) => {
    if (req.url?.startsWith("/api/")) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sha: COMMIT, siblings: [{ rfilename: "big.bin" }] }));
      return;
    }
    const step = plan[Math.min(ranges.length, plan.length - 1)];
    ranges.push(req.headers.range);
    const headers = { etag: `"${sha256(BIG)}"`, "x-repo-commit": COMMIT };
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    if (step === "stall-head") return; // never answers
    if (step === "full" || ((step === "range" || step === "bad-range") && req.headers.range === undefined)) return void res.writeHead(200, { ...headers, "content-length": BIG.length }).end(BIG);
    if (step === "range") {
      res.writeHead(206, { ...headers, "content-length": BIG.length - from, "content-range": `bytes ${from}-${BIG.length - 1}/${BIG.length}` }).end(BIG.subarray(from));
      return;
    }
    if (step === "bad-range") {
      res.writeHead(206, { ...headers, "content-length": BIG.length - 10, "content-range": `bytes 10-${BIG.length - 1}/${BIG.length}` }).end(BIG.subarray(10));
      return;
    }
    res.writeHead(200, { ...headers, "content-length": BIG.length });
    res.write(BIG.subarray(0, BIG.length / 2), () => {
      if (step === "cut") setTimeout(() => res.socket?.destroy(), 20);
    });
  });
  return { endpoint, ranges };
}

/** The parked partial of BIG and the blobs folder of a cache. */
function blobsOf(cacheDir: string): { blobs: string; partial: string } {
  const blobs = path.join(cacheDir, "models--org--tiny", "blobs");
  return { blobs, partial: path.join(blobs, `${sha256(BIG)}.incomplete`) };
}

test("an interrupted download keeps its bytes as <etag>.incomplete (nothing complete-looking) and the next call resumes with Range", async (t) => {
  const dir = tempDir(t);
  const { endpoint, ranges } = await plannedServer(t, ["cut", "range"]);
  const opts = { endpoint, cacheDir: path.join(dir, "cache"), env: {}, allow };
  const e = await rejectsWith(snapshotDownload(REPO, opts), "HUB_REQUEST_FAILED");
  assert.match(e.message, /interrupted after \d+ of 300000 bytes .*the next run resumes from there/);
  const { blobs, partial } = blobsOf(opts.cacheDir);
  assert.deepEqual(listTree(blobs), [path.basename(partial)], "only the parked partial, no blob");
  const have = fs.statSync(partial).size;
  assert.ok(have > 0 && have < BIG.length);
  const repoDir = path.join(dir, "cache", "models--org--tiny");
  assert.deepEqual(listTree(path.join(repoDir, "snapshots")).filter((p) => p.endsWith("big.bin")), []);
  assert.ok(!fs.existsSync(path.join(repoDir, "refs", "main")), "no ref to a half snapshot");
  await rejectsWith(snapshotDownload(REPO, { ...opts, localFilesOnly: true }), "HUB_OFFLINE");

  const folder = await snapshotDownload(REPO, opts);
  assert.deepEqual(fs.readFileSync(path.join(folder, "big.bin")), BIG);
  assert.deepEqual(ranges, [undefined, undefined, `bytes=${have}-`], "asked again from the start, then for the rest");
  assert.deepEqual(listTree(blobs), [sha256(BIG)], "the partial became the blob");
});

test("a server that ignores Range (200) sends the whole file again; a Content-Range that does not fit the partial is not trusted", async (t) => {
  for (const second of ["full", "bad-range"] as const) {
    const dir = tempDir(t);
    const { endpoint, ranges } = await plannedServer(t, second === "full" ? ["cut", "full"] : ["cut", "bad-range", "bad-range", "full"]);
    const opts = { endpoint, cacheDir: path.join(dir, "cache"), env: {}, allow };
    await rejectsWith(snapshotDownload(REPO, opts), "HUB_REQUEST_FAILED");
    const folder = await snapshotDownload(REPO, opts);
    assert.deepEqual(fs.readFileSync(path.join(folder, "big.bin")), BIG, second);
    assert.equal(ranges.filter((r) => r !== undefined).length, 1, `${second}: one Range request`);
    assert.equal(ranges.length, second === "full" ? 3 : 4, `${second}: ${ranges.join(",")}`);
    assert.deepEqual(listTree(blobsOf(opts.cacheDir).blobs), [sha256(BIG)]);
  }
});

test("a server that never answers fails with HUB_TIMEOUT (connect); one that stalls mid-body with HUB_TIMEOUT (idle), and the next call resumes", async (t) => {
  const dir = tempDir(t);
  const head = await plannedServer(t, ["stall-head"]);
  const base = { cacheDir: path.join(dir, "cache"), env: {}, allow, connectTimeoutMs: 300, idleTimeoutMs: 300 };
  let started = Date.now();
  const c = await rejectsWith(snapshotDownload(REPO, { ...base, endpoint: head.endpoint }), "HUB_TIMEOUT");
  assert.match(c.message, /no answer within 300 ms \(connect timeout/);
  assert.equal(c.details?.["phase"], "connect");
  assert.ok(Date.now() - started < 5000);

  const body = await plannedServer(t, ["stall-body", "range"]);
  started = Date.now();
  const i = await rejectsWith(snapshotDownload(REPO, { ...base, endpoint: body.endpoint }), "HUB_TIMEOUT");
  assert.match(i.message, /no data for 300 ms \(idle timeout/);
  assert.equal(i.details?.["phase"], "idle");
  assert.ok(Date.now() - started < 5000);
  const have = fs.statSync(blobsOf(base.cacheDir).partial).size;
  assert.equal(have, BIG.length / 2);
  const folder = await snapshotDownload(REPO, { ...base, endpoint: body.endpoint });
  assert.deepEqual(fs.readFileSync(path.join(folder, "big.bin")), BIG);
  assert.deepEqual(body.ranges, [undefined, undefined, `bytes=${have}-`]);

  // The environment's timeouts are seconds, as huggingface_hub reads them.
  const s = resolveHubSettings({ env: { HF_HUB_ETAG_TIMEOUT: "2.5", HF_HUB_DOWNLOAD_TIMEOUT: "60" } });
  assert.deepEqual([s.connectTimeoutMs, s.idleTimeoutMs], [2500, 60_000]);
  assert.throws(() => resolveHubSettings({ env: {}, idleTimeoutMs: 0 }), (e) => isColtsError(e, "INPUT_INVALID"));
});

test("a failure of the Range request itself keeps the parked partial for the attempt after", async (t) => {
  const dir = tempDir(t);
  const { endpoint, ranges } = await plannedServer(t, ["cut", "range", "stall-head", "range"]);
  const opts = { endpoint, cacheDir: path.join(dir, "cache"), env: {}, allow, connectTimeoutMs: 300 };
  await rejectsWith(snapshotDownload(REPO, opts), "HUB_REQUEST_FAILED");
  const { blobs, partial } = blobsOf(opts.cacheDir);
  const have = fs.statSync(partial).size;
  await rejectsWith(snapshotDownload(REPO, opts), "HUB_TIMEOUT");
  assert.deepEqual(listTree(blobs), [path.basename(partial)], "still parked under its etag, nothing else");
  assert.equal(fs.statSync(partial).size, have);
  const folder = await snapshotDownload(REPO, opts);
  assert.deepEqual(fs.readFileSync(path.join(folder, "big.bin")), BIG);
  assert.deepEqual(ranges, [undefined, undefined, `bytes=${have}-`, undefined, `bytes=${have}-`]);
});

test("an AbortSignal stops a stalled download with its reason", async (t) => {
  const dir = tempDir(t);
  const { endpoint } = await plannedServer(t, ["stall-head"]);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("user stop")), 100);
  await assert.rejects(snapshotDownload(REPO, { endpoint, cacheDir: path.join(dir, "cache"), env: {}, allow, signal: ac.signal }), /user stop/);
});

test("the token is read from $HF_HOME/token (or HF_TOKEN_PATH) when HF_TOKEN is unset, and sent", async (t) => {
  const f = await fixture(t, { requireToken: "hf_file" });
  const hfHome = path.join(tempDir(t), "hf");
  fs.mkdirSync(hfHome);
  fs.writeFileSync(path.join(hfHome, "token"), "hf_file\n");
  assert.equal(resolveHubSettings({ env: { HF_HOME: hfHome } }).token, "hf_file");
  assert.equal(resolveHubSettings({ env: { HF_HOME: hfHome, HF_TOKEN: "hf_env" } }).token, "hf_env", "HF_TOKEN first");
  fs.writeFileSync(path.join(hfHome, "other"), "hf_other");
  assert.equal(resolveHubSettings({ env: { HF_HOME: hfHome, HF_TOKEN_PATH: path.join(hfHome, "other") } }).token, "hf_other");
  const folder = await snapshotDownload(REPO, { ...f.opts, allow, env: { HF_HOME: hfHome } });
  assert.ok(fs.existsSync(path.join(folder, "onnx", "model.onnx")));
});

test("when the hub cannot be reached, resolveModelDir uses a complete cached snapshot of the revision, with a warning", async (t) => {
  const f = await fixture(t);
  const folder = await resolveModelDir(REPO, f.opts);
  assert.ok(fs.existsSync(path.join(folder, "onnx", "model.onnx")));
  await f.server.close();
  const warnings: string[] = [];
  const again = await resolveModelDir(REPO, { ...f.opts, onWarning: (m) => warnings.push(m) });
  assert.equal(again, folder);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /could not reach the hub .*Using the cached snapshot .* of "org\/tiny" \(revision "main"\) instead/);
  // A stalled hub (connect timeout) too.
  const endpoint = await rawServer(t, () => undefined); // accepts connections, never answers
  assert.equal(await resolveModelDir(REPO, { ...f.opts, endpoint, connectTimeoutMs: 200, onWarning: (m) => warnings.push(m) }), folder);
  assert.match(warnings[1]!, /no answer within 200 ms/);
  // An incomplete snapshot (a blob gone) is no stand-in: the network error is reported.
  const blobs = path.join(f.cacheDir, "models--org--tiny", "blobs");
  fs.rmSync(path.join(blobs, sha256(BIG)));
  await rejectsWith(resolveModelDir(REPO, { ...f.opts, onWarning: (m) => warnings.push(m) }), "HUB_REQUEST_FAILED");
  assert.equal(warnings.length, 2);
});

test("an answer of the hub (404) is not covered by the cache fallback", async (t) => {
  const f = await fixture(t);
  await resolveModelDir(REPO, f.opts);
  const warnings: string[] = [];
  // The hub knows no "org/other" (404, an answer): no fallback, not even to another repo's snapshot.
  await rejectsWith(resolveModelDir("org/other", { ...f.opts, onWarning: (m) => warnings.push(m) }), "MODEL_NOT_FOUND");
  // Nor a revision the hub does not have, though "main" is cached.
  await rejectsWith(resolveModelDir(`${REPO}@v9`, { ...f.opts, onWarning: (m) => warnings.push(m) }), "MODEL_NOT_FOUND");
  assert.deepEqual(warnings, []);
});

test("an LFS redirect: blob named by x-linked-etag, token sent to the hub but not to the CDN", async (t) => {
  const dir = tempDir(t);
  const cdnAuth: (string | undefined)[] = [];
  const cdn = await rawServer(t, (req, res) => {
    cdnAuth.push(req.headers.authorization);
    res.writeHead(200, { "content-length": BIG.length, etag: '"cdn-md5-etag"' }).end(BIG);
  });
  const hubAuth: (string | undefined)[] = [];
  const endpoint = await rawServer(t, (req, res) => {
    hubAuth.push(req.headers.authorization);
    res.writeHead(302, { location: `${cdn}/blob?signed=1`, "x-linked-etag": `"${sha256(BIG)}"`, "x-repo-commit": COMMIT, etag: '"git-oid"' }).end();
  });
  const local = await downloadFile(REPO, "model.safetensors", { endpoint, cacheDir: path.join(dir, "cache"), env: {}, token: "hf_secret" });
  assert.deepEqual(fs.readFileSync(local), BIG);
  assert.equal(path.basename(fs.readlinkSync(local)), sha256(BIG));
  assert.ok(local.includes(COMMIT));
  assert.deepEqual(hubAuth, ["Bearer hf_secret"]);
  assert.deepEqual(cdnAuth, [undefined]);
});

/** A fetch that answers every request itself, with the given bytes and headers. */
function fakeFetch(body: Buffer, headers: Record<string, string>): typeof fetch {
  return () => Promise.resolve(new Response(body, { status: 200, headers: { "content-length": String(body.length), ...headers } }));
}

test("etags lose their quotes and W/; without an etag the blob is named by the content's sha256", async (t) => {
  const dir = tempDir(t);
  const base = { endpoint: "http://hub.invalid", cacheDir: path.join(dir, "cache"), env: {} };
  const weak = await downloadFile(REPO, "a.txt", { ...base, fetch: fakeFetch(Buffer.from("aaa"), { etag: 'W/"abc123"', "x-repo-commit": COMMIT }) });
  assert.equal(path.basename(fs.readlinkSync(weak)), "abc123");
  const none = await downloadFile(REPO, "b.txt", { ...base, fetch: fakeFetch(Buffer.from("bbb"), {}), revision: COMMIT });
  assert.equal(path.basename(fs.readlinkSync(none)), sha256("bbb"));
  assert.deepEqual(listTree(path.join(dir, "cache", "models--org--tiny", "blobs")).sort(), ["abc123", sha256("bbb")].sort());
});

test("a body whose sha256 does not match its LFS etag is rejected and not cached", async (t) => {
  const dir = tempDir(t);
  const opts = { endpoint: "http://hub.invalid", cacheDir: path.join(dir, "cache"), env: {} };
  const lying = fakeFetch(Buffer.from("corrupted"), { etag: `"${sha256("original")}"`, "x-repo-commit": COMMIT });
  const e = await rejectsWith(downloadFile(REPO, "w.bin", { ...opts, fetch: lying }), "HUB_REQUEST_FAILED");
  assert.match(e.message, /does not match the etag/);
  assert.deepEqual(listTree(path.join(dir, "cache", "models--org--tiny", "blobs")), []);
});

test("progress events are throttled to about 10 per second plus the final one", async (t) => {
  const dir = tempDir(t);
  const chunks = 30;
  const slow: typeof fetch = () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 20));
        if (sent++ < chunks) controller.enqueue(new Uint8Array(1000));
        else controller.close();
      },
    });
    return Promise.resolve(new Response(body, { headers: { "content-length": String(chunks * 1000), "x-repo-commit": COMMIT } }));
  };
  const events: DownloadProgress[] = [];
  await downloadFile(REPO, "slow.bin", { endpoint: "http://hub.invalid", cacheDir: path.join(dir, "c"), env: {}, fetch: slow, onProgress: (e) => events.push(e) });
  const progress = events.filter((e) => e.status === "progress");
  // ~620 ms of body: about 6 throttled events plus the final one; far fewer than the 30 chunks
  assert.ok(progress.length >= 2 && progress.length <= 10, `got ${progress.length} progress events`);
  assert.deepEqual(progress.at(-1), { status: "progress", repo: REPO, file: "slow.bin", loaded: 30000, total: 30000, progress: 100 });
});

test("bad repo ids and file paths that could escape the cache are INPUT_INVALID", async () => {
  const opts = { endpoint: "http://hub.invalid", cacheDir: os.tmpdir(), env: {}, localFilesOnly: true };
  await rejectsWith(downloadFile("../etc", "x", opts), "INPUT_INVALID");
  await rejectsWith(downloadFile(REPO, "../../passwd", opts), "INPUT_INVALID");
  await rejectsWith(downloadFile(REPO, "/abs", opts), "INPUT_INVALID");
  await rejectsWith(downloadFile(REPO, "x", { ...opts, revision: "../x" }), "INPUT_INVALID");
});

test("resolveHubSettings applies options, then HF_* variables, then defaults", () => {
  const home = path.resolve("/home/u");
  assert.deepEqual(resolveHubSettings({ env: { HOME: home } }), {
    revision: "main",
    cacheDir: path.join(home, ".cache", "huggingface", "hub"),
    endpoint: "https://huggingface.co",
    localFilesOnly: false,
    token: undefined,
    connectTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
  });
  const cache = (env: NodeJS.ProcessEnv): string => resolveHubSettings({ env: { HOME: home, ...env } }).cacheDir;
  assert.equal(cache({ HF_HOME: path.resolve("/hf") }), path.resolve("/hf/hub"));
  assert.equal(cache({ HF_HOME: "~/hf" }), path.join(home, "hf", "hub"));
  assert.equal(cache({ HF_HOME: path.resolve("/hf"), HF_HUB_CACHE: path.resolve("/c") }), path.resolve("/c"));
  assert.equal(cache({ XDG_CACHE_HOME: path.resolve("/xdg") }), path.resolve("/xdg/huggingface/hub"));
  assert.equal(resolveHubSettings({ cacheDir: path.resolve("/o"), env: { HF_HUB_CACHE: "/c" } }).cacheDir, path.resolve("/o"));

  assert.equal(resolveHubSettings({ env: { HF_ENDPOINT: "https://hf-mirror.com/" } }).endpoint, "https://hf-mirror.com");
  assert.equal(resolveHubSettings({ endpoint: "http://x", env: { HF_ENDPOINT: "http://y" } }).endpoint, "http://x");

  const offline = (v: string): boolean => resolveHubSettings({ env: { HF_HUB_OFFLINE: v } }).localFilesOnly;
  assert.deepEqual(["1", "true", "TRUE", "yes", "on"].map(offline), [true, true, true, true, true]);
  assert.deepEqual(["0", "false", "", "no"].map(offline), [false, false, false, false]);
  assert.equal(resolveHubSettings({ localFilesOnly: false, env: { HF_HUB_OFFLINE: "1" } }).localFilesOnly, false);

  assert.equal(resolveHubSettings({ env: { HF_TOKEN: "hf_env" } }).token, "hf_env");
  assert.equal(resolveHubSettings({ token: "hf_opt", env: { HF_TOKEN: "hf_env" } }).token, "hf_opt");
  assert.equal(resolveHubSettings({ token: "", env: { HF_TOKEN: "hf_env" } }).token, undefined);
  assert.equal(resolveHubSettings({ revision: "v1", env: {} }).revision, "v1");
});

test("isHubId accepts org/name and name, rejects paths and existing folders", (t) => {
  for (const id of ["colbert-ir/colbertv2.0", "bert-base-uncased", "answerdotai/answerai-colbert-small-v1", "a", "org_1/m.v2"]) {
    assert.ok(isHubId(id), id);
  }
  for (const s of ["./model", "/abs/model", "~/model", ".hidden", "a/b/c", "org/", "/", "", "a..b", "a--b", "org/name-", "has space"]) {
    assert.ok(!isHubId(s), s);
  }
  const dir = tempDir(t);
  const cwd = process.cwd();
  process.chdir(dir);
  t.after(() => process.chdir(cwd));
  fs.mkdirSync(path.join(dir, "models"));
  assert.ok(!isHubId("models"), "an existing local folder is not a hub id");
});
