/**
 * The web UI in a real headless Chromium (Debian's `chromium`, driven by playwright-core; no browser
 * download). Types a query, waits for results, opens an explanation, checks the keyboard path, and
 * saves a screenshot to test-artifacts/ui-search.png. Fails (never skips) when chromium is missing.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { chromium, type BrowserContext } from "playwright-core";
import { buildServer } from "../../src/server/build.js";
import { Engine } from "../../src/server/engine.js";
import { repoRoot, suiteDir } from "../helpers/paths.js";
import { servedFixture } from "../helpers/server.js";

const CHROMIUM = process.env["COLTS_CHROMIUM"] ?? "/usr/bin/chromium";
const ARTIFACTS = path.join(repoRoot, "test-artifacts");

const root = suiteDir("colts-ui-");
let engine: Engine;
let app: FastifyInstance;
let base: string;
let browser: BrowserContext;

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`the UI test needs Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set COLTS_CHROMIUM`);
  }
  const fx = await servedFixture(root, 60);
  engine = await Engine.start({ indexes: [{ name: "cacm", dir: fx.index }], workers: 1 });
  app = buildServer({ engine, token: "ui-token", log: () => undefined }).app;
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // A fresh profile per run (playwright passes it as --user-data-dir), removed with the suite's folder.
  browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(root, "chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1100, height: 1400 },
  });
});
after(async () => {
  await browser?.close();
  await app?.close();
  await engine?.close();
  // suiteDir's own removal runs first (hooks run in the order registered), while Chromium still
  // writes its profile; remove the folder again once the browser is closed.
  fs.rmSync(root, { recursive: true, force: true });
});

test("search, results with scores and metadata, MaxSim explanation, screenshot", async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const external: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base)) external.push(r.url());
  });
  await page.goto(`${base}/`);
  // Without the token the index list is refused and the token field opens.
  await page.getByRole("status").filter({ hasText: "UNAUTHORIZED" }).waitFor();
  await page.getByLabel("Bearer token").fill("ui-token");
  await page.getByLabel("Bearer token").press("Enter");
  await page.getByLabel("Bearer token").blur();
  await page.locator("#index option").first().waitFor({ state: "attached" });
  assert.equal(await page.getByLabel("Index", { exact: true }).inputValue(), "cacm");
  assert.match((await page.locator("#stats").textContent()) ?? "", /Documents \(live\)\s*60/);

  // Keyboard only: type the query and press Enter.
  await page.getByLabel("Query", { exact: true }).fill("convergence of iterative methods");
  await page.getByLabel("Query", { exact: true }).press("Enter");
  await page.locator("li.hit").first().waitFor();
  assert.equal(await page.locator("li.hit").count(), 10);
  assert.match((await page.locator("li.hit .score").first().textContent()) ?? "", /score -?\d+\.\d{4}/);
  assert.match((await page.locator("li.hit .meta").first().textContent()) ?? "", /year: \d{4}/);
  assert.match((await page.getByRole("status").textContent()) ?? "", /10 result\(s\)/);

  const why = page.getByRole("button", { name: "Why this match?" }).first();
  assert.equal(await why.getAttribute("aria-expanded"), "false");
  await why.focus();
  await page.keyboard.press("Enter");
  const panel = page.locator(".explain").first();
  await panel.locator("table tbody tr").first().waitFor();
  assert.equal(await why.getAttribute("aria-expanded"), "true");
  assert.ok((await panel.locator("tbody tr").count()) >= 8, "one row per query token");
  assert.ok((await panel.locator(".heat .tok.hit").count()) >= 1, "matched document tokens are highlighted");
  // Right-to-left text is laid out by its own direction: server text and the query box are dir="auto".
  assert.equal(await page.locator(".hit-id").first().getAttribute("dir"), "auto");
  assert.equal(await panel.locator(".heat").getAttribute("dir"), "auto");
  assert.equal(await page.locator("#q").getAttribute("dir"), "auto");
  assert.match((await panel.locator("caption").textContent()) ?? "", /Query tokens/);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, "ui-search.png");
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 10_000, "screenshot written");

  // The docs page renders the OpenAPI operations offline (the token entered above is kept for the tab).
  await page.goto(`${base}/docs`);
  await page.getByRole("heading", { name: "POST /indexes/{name}/search" }).waitFor();
  const op = page.getByRole("region", { name: "POST /indexes/{name}/search" });
  assert.equal(await op.getByLabel("Path").inputValue(), "/indexes/cacm/search");
  await op.getByRole("button", { name: "Send" }).click();
  await op.locator("pre").filter({ hasText: /^200 / }).waitFor();
  assert.match((await op.locator("pre").last().textContent()) ?? "", /"results"/);
  await page.screenshot({ path: path.join(ARTIFACTS, "ui-docs.png"), fullPage: false });

  assert.deepEqual(errors, []);
  assert.deepEqual(external, [], "the pages load nothing from other hosts");
});
