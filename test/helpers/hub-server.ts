/**
 * A local stand-in for the Hugging Face hub, for tests (the real hub is not reachable from CI).
 * Serves one repo from a folder, in the hub's URL layout:
 *
 *   GET /api/models/{repo}/revision/{rev}   JSON { sha, siblings: [{ rfilename }] } for every file under the folder
 *   GET /{repo}/resolve/{rev}/{path}        the file's bytes with content-length, etag and x-repo-commit
 *
 * `rev` may be "main" or the commit. Anything else answers 404. HEAD works like GET without a body.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export interface HubServerOptions {
  /** Commit hash the server reports (40 hex). Default: a sha1 over the folder's file names and contents at start. */
  commit?: string;
  /** The one repo id served ("org/name" or "name"); other ids answer 404. */
  repo: string;
  /** When set, requests without `Authorization: Bearer {requireToken}` answer 401. */
  requireToken?: string;
}

export interface HubServer {
  /** Base URL to use as `endpoint` / HF_ENDPOINT, e.g. "http://127.0.0.1:39127". */
  endpoint: string;
  /** The path (and query) of every request received, in order, including rejected ones. */
  requests: string[];
  /** Stops the server and drops kept-alive connections; calling it again does nothing. */
  close(): Promise<void>;
}

export async function startHubServer(rootFolder: string, options: HubServerOptions): Promise<HubServer> {
  const root = path.resolve(rootFolder);
  const commit = options.commit ?? folderCommit(root);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    try {
      handle(req, res, { root, commit, ...options });
    } catch {
      res.writeHead(400).end(); // malformed %-escapes; a throw here would kill the test process
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve(); // closing twice (in the test and in t.after) is fine
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface Served extends HubServerOptions {
  root: string;
  commit: string;
}

function handle(req: http.IncomingMessage, res: http.ServerResponse, s: Served): void {
  const pathname = new URL(req.url ?? "/", "http://x").pathname;
  if (req.method !== "GET" && req.method !== "HEAD") return notFound(res, "EntryNotFound");
  if (s.requireToken !== undefined && req.headers.authorization !== `Bearer ${s.requireToken}`) {
    res.writeHead(401, { "content-type": "application/json", "x-error-code": "Unauthorized" });
    res.end(JSON.stringify({ error: "Invalid credentials in Authorization header" }));
    return;
  }
  const listing = `/api/models/${s.repo}/revision/`;
  const resolve = `/${s.repo}/resolve/`;
  if (pathname.startsWith(listing)) return serveListing(res, s, decodeURIComponent(pathname.slice(listing.length)));
  if (pathname.startsWith(resolve)) return serveFile(req, res, s, pathname.slice(resolve.length));
  notFound(res, "RepoNotFound");
}

function serveListing(res: http.ServerResponse, s: Served, rev: string): void {
  if (rev !== "main" && rev !== s.commit) return notFound(res, "RevisionNotFound");
  const siblings = listFiles(s.root).map((rfilename) => ({ rfilename }));
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ id: s.repo, sha: s.commit, siblings }));
}

function serveFile(req: http.IncomingMessage, res: http.ServerResponse, s: Served, rest: string): void {
  const [rev = "", ...parts] = rest.split("/").map(decodeURIComponent);
  if (rev !== "main" && rev !== s.commit) return notFound(res, "RevisionNotFound");
  const file = path.resolve(s.root, ...parts);
  if (!file.startsWith(s.root + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    return notFound(res, "EntryNotFound");
  }
  const bytes = fs.readFileSync(file);
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": bytes.length,
    etag: `"${createHash("sha256").update(bytes).digest("hex")}"`,
    "x-repo-commit": s.commit,
  });
  res.end(req.method === "HEAD" ? undefined : bytes);
}

function notFound(res: http.ServerResponse, code: string): void {
  res.writeHead(404, { "content-type": "application/json", "x-error-code": code });
  res.end(JSON.stringify({ error: code }));
}

/** Every file under `root`, recursively, as sorted posix paths relative to it. */
function listFiles(root: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(root, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

function folderCommit(root: string): string {
  const h = createHash("sha1");
  for (const file of listFiles(root)) h.update(file).update("\0").update(fs.readFileSync(path.join(root, file)));
  return h.digest("hex");
}
