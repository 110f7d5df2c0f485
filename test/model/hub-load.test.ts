/**
 * ColBERT.load with a hub id against a local server that serves a generated model in the hub's URL
 * layout: first load downloads (with progress events), the second uses the cache, offline mode with
 * an empty cache fails with HUB_OFFLINE.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runMain } from "../../src/cli/main.js";
import { ColBERT } from "../../src/encode/colbert.js";
import type { DownloadProgress } from "../../src/model/hub.js";
import { startHubServer } from "../helpers/hub-server.js";
import { tinyModel } from "../helpers/models.js";
import { tempDir } from "../helpers/paths.js";

const REPO = "colts-test/tiny-colbert";

test("hub id: download with progress, then cache, then offline", async (t) => {
  const modelDir = await tinyModel(t, { layout: "pylate" });
  fs.writeFileSync(path.join(modelDir, "pytorch_model.bin"), "not needed"); // must not be fetched
  const server = await startHubServer(modelDir, { repo: REPO });
  t.after(() => server.close());
  const cacheDir = tempDir(t);
  const events: DownloadProgress[] = [];
  const base = { endpoint: server.endpoint, cacheDir, env: {}, workers: 0 } as const;

  const first = await ColBERT.load(REPO, { ...base, onProgress: (e) => events.push(e) });
  const [v1] = await first.encodeDocuments(["paris is the capital of france"]);
  await first.close();
  const fetched = server.requests.filter((r) => r.includes("/resolve/"));
  assert.ok(fetched.some((r) => r.endsWith("/onnx/model.onnx")), "graph downloaded");
  assert.ok(fetched.some((r) => r.endsWith("/1_Dense/model.safetensors")), "head downloaded");
  assert.ok(!fetched.some((r) => r.endsWith("pytorch_model.bin")), "files the loader does not read are not downloaded");
  const statuses = new Set(events.map((e) => e.status));
  for (const s of ["initiate", "download", "progress", "done", "ready"]) assert.ok(statuses.has(s as DownloadProgress["status"]), `event ${s}`);
  assert.ok(first.info.dir.startsWith(cacheDir), "model read from the cache folder");
  assert.ok(fs.existsSync(path.join(cacheDir, "models--colts-test--tiny-colbert", "refs", "main")));

  const before = server.requests.length;
  const cachedEvents: DownloadProgress[] = [];
  const second = await ColBERT.load(REPO, { ...base, onProgress: (e) => cachedEvents.push(e) });
  const [v2] = await second.encodeDocuments(["paris is the capital of france"]);
  await second.close();
  assert.equal(server.requests.slice(before).filter((r) => r.includes("/resolve/")).length, 0, "no file downloaded again");
  assert.ok(cachedEvents.filter((e) => e.status === "done").every((e) => e.status === "done" && e.fromCache));
  assert.deepEqual(v2!.vectors, v1!.vectors);

  const offlineBefore = server.requests.length;
  const offline = await ColBERT.load(REPO, { ...base, localFilesOnly: true });
  await offline.close();
  assert.equal(server.requests.length, offlineBefore, "offline mode makes no request");
});

test("offline mode with an empty cache fails with HUB_OFFLINE naming the repo", async (t) => {
  await assert.rejects(
    ColBERT.load(REPO, { cacheDir: tempDir(t), localFilesOnly: true, env: {}, workers: 0 }),
    (e: Error & { code?: string }) => e.code === "HUB_OFFLINE" && e.message.includes(REPO),
  );
});

test("HF_HUB_OFFLINE=1 in the environment means offline", async (t) => {
  await assert.rejects(ColBERT.load(REPO, { cacheDir: tempDir(t), env: { HF_HUB_OFFLINE: "1" }, workers: 0 }), { code: "HUB_OFFLINE" });
});

test("an unreachable endpoint fails with HUB_REQUEST_FAILED; a path that is neither folder nor id with MODEL_NOT_FOUND", async (t) => {
  const server = await startHubServer(tempDir(t), { repo: REPO });
  const endpoint = server.endpoint;
  await server.close();
  await assert.rejects(ColBERT.load(REPO, { endpoint, cacheDir: tempDir(t), env: {}, workers: 0 }), { code: "HUB_REQUEST_FAILED" });
  await assert.rejects(ColBERT.load("./no/such/../folder", { env: {}, workers: 0 }), { code: "MODEL_NOT_FOUND" });
});

test("the CLI says on stderr when a cached snapshot stands in for an unreachable hub, and still works", async (t) => {
  const modelDir = await tinyModel(t, { layout: "onnx" });
  const server = await startHubServer(modelDir, { repo: REPO });
  t.after(() => server.close());
  const env = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: tempDir(t) };
  const run = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const stdout = new PassThrough().on("data", (b: Buffer) => out.push(b));
    const stderr = new PassThrough().on("data", (b: Buffer) => err.push(b));
    const code = await runMain(["encode", "-m", REPO, "--queries", "--workers", "0"], { stdin: Readable.from(["hello\n"]), stdout, stderr, env, cwd: tempDir(t) });
    return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  };
  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stderr, /warning/);
  await server.close();
  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /colts: warning: could not reach the hub .*Using the cached snapshot .* of "colts-test\/tiny-colbert" \(revision "main"\) instead\./);
  assert.equal(second.stdout, first.stdout, "same vectors from the cached model");
});
