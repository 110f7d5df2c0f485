import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgressBar, formatAmount, formatDuration, hubProgressPrinter, type ProgressStream } from "../../src/cli/progress.js";
import type { DownloadProgress } from "../../src/model/hub.js";

const MiB = 1024 * 1024;

/** A stream that records what is written, and a clock the test moves by hand. */
function fakes(isTTY: boolean, columns?: number): { stream: ProgressStream; out: string[]; clock: { t: number }; now: () => number } {
  const out: string[] = [];
  const clock = { t: 0 };
  return { stream: { isTTY, columns, write: (s: string) => out.push(s) }, out, clock, now: () => clock.t };
}

test("on a TTY the bar redraws one line with percentage, bar, sizes, rate and ETA", () => {
  const f = fakes(true);
  const bar = createProgressBar({ stream: f.stream, label: "model.onnx", total: 10 * MiB, unit: "B", now: f.now });
  f.clock.t = 50;
  bar.update(1 * MiB);
  assert.equal(f.out.length, 0, "redraws are throttled");
  f.clock.t = 1000;
  bar.update(5 * MiB);
  assert.equal(f.out.length, 1);
  const line = f.out[0]!;
  assert.ok(line.startsWith("\r") && line.endsWith("\x1b[K"), JSON.stringify(line));
  assert.ok(!line.includes("\n"));
  for (const part of ["model.onnx", " 50%", "[##########..........]", "5.00 MiB/10.0 MiB", "5.00 MiB/s", "ETA 1s"]) {
    assert.ok(line.includes(part), `${JSON.stringify(line)} has ${part}`);
  }
  f.clock.t = 2000;
  bar.update(10 * MiB);
  bar.finish();
  const last = f.out.at(-1)!;
  assert.ok(last.startsWith("\r") && last.endsWith("\n"));
  assert.ok(last.includes("100%") && last.includes("in 2s") && !last.includes("ETA"), last);
  const count = f.out.length;
  bar.finish();
  bar.update(1);
  assert.equal(f.out.length, count, "nothing after finish");
});

test("on a TTY lines are cut to the terminal width", () => {
  const f = fakes(true, 30);
  const bar = createProgressBar({ stream: f.stream, label: "a-rather-long-label-for-a-file.safetensors", total: 100, now: f.now });
  f.clock.t = 500;
  bar.update(40);
  const visible = f.out[0]!.replace("\r", "").replace("\x1b[K", "");
  assert.equal(visible.length, 29);
});

test("off a TTY it prints at most one line every 2 seconds plus a final line", () => {
  const f = fakes(false);
  const bar = createProgressBar({ stream: f.stream, label: "encode", total: 5000, unit: "items", now: f.now });
  for (let i = 1; i <= 50; i++) {
    f.clock.t = i * 100;
    bar.tick(100);
  }
  assert.equal(f.out.length, 2, "at 2 s and 4 s");
  bar.finish();
  assert.equal(f.out.length, 3);
  assert.ok(f.out.every((l) => l.endsWith("\n") && !l.includes("\r") && !l.includes("\x1b")));
  assert.match(f.out[0]!, /^encode {2}40% \[########\.+\] 2\.00k items\/5\.00k items 1\.00k items\/s ETA 3s\n$/);
  assert.match(f.out[2]!, /100% .* in 5s\n$/);
});

test("a quick job off a TTY prints only its final line", () => {
  const f = fakes(false);
  const bar = createProgressBar({ stream: f.stream, label: "tokenize", unit: "tokens", now: f.now });
  bar.update(1234);
  f.clock.t = 500;
  bar.finish();
  assert.deepEqual(f.out, ["tokenize 1.23k tokens 2.47k tokens/s in 1s\n"]);
});

test("with an unknown total there is no percentage, bar or ETA", () => {
  const f = fakes(true);
  const bar = createProgressBar({ stream: f.stream, label: "x", unit: "B", now: f.now });
  f.clock.t = 1000;
  bar.update(2048);
  assert.equal(f.out[0], "\rx 2.00 KiB 2.00 KiB/s\x1b[K");
});

test("hubProgressPrinter shows one bar per downloaded file and nothing for cache hits", () => {
  const f = fakes(false);
  const print = hubProgressPrinter(f.stream, { now: f.now });
  const events: DownloadProgress[] = [
    { status: "initiate", repo: "org/m", file: "config.json" },
    { status: "done", repo: "org/m", file: "config.json", fromCache: true },
    { status: "initiate", repo: "org/m", file: "model.onnx" },
    { status: "download", repo: "org/m", file: "model.onnx" },
  ];
  events.forEach(print);
  for (let i = 1; i <= 30; i++) {
    f.clock.t = i * 100;
    print({ status: "progress", repo: "org/m", file: "model.onnx", loaded: i * MiB, total: 30 * MiB, progress: (i / 30) * 100 });
  }
  print({ status: "done", repo: "org/m", file: "model.onnx", fromCache: false });
  print({ status: "ready", repo: "org/m", path: "/cache/snapshots/abc" });
  assert.equal(f.out.length, 2, f.out.join(""));
  assert.ok(f.out.every((l) => l.startsWith("org/m/model.onnx ")));
  assert.match(f.out[1]!, /100% .* 30\.0 MiB\/30\.0 MiB .* in 3s\n$/);
});

test("amounts and durations are human-readable", () => {
  assert.equal(formatAmount(512, "B"), "512 B");
  assert.equal(formatAmount(1536, "B"), "1.50 KiB");
  assert.equal(formatAmount(438 * MiB, "B"), "438.0 MiB");
  assert.equal(formatAmount(3 * 1024 * MiB, "B"), "3.00 GiB");
  assert.equal(formatAmount(999, "items"), "999 items");
  assert.equal(formatAmount(12_345_678, "tokens"), "12.3M tokens");
  assert.equal(formatDuration(7.2), "7s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(7300), "2h01m");
});
