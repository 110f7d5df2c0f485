/**
 * A small progress bar for the CLI. On a terminal it redraws one line in place (percentage, bar, sizes,
 * rate, ETA); elsewhere (CI logs, pipes) it prints at most one line every couple of seconds plus a final
 * line, so logs stay short. It writes to stderr by default so stdout stays clean for results.
 */
import type { DownloadProgress } from "../model/hub.js";

/** The part of a writable stream the bar uses; tests pass a fake object with `write` and `isTTY`. */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** True on a terminal: redraw in place. Otherwise: append occasional lines. */
  isTTY?: boolean;
  /** Terminal width; lines are cut to fit so `\r` redraws do not wrap. Unknown: no cut. */
  columns?: number;
}

/** "B" prints binary sizes (KiB, MiB, GiB); "items" and "tokens" print counts with k/M/G suffixes. */
export type ProgressUnit = "B" | "items" | "tokens";

export interface ProgressBarOptions {
  /** Where to draw. Default `process.stderr`. */
  stream?: ProgressStream;
  /** Text in front of the bar (a file name, a phase). */
  label: string;
  /** Expected final count; null or absent when unknown (then no percentage, bar or ETA). `update` may set it later. */
  total?: number | null;
  /** What is counted. Default "items". */
  unit?: ProgressUnit;
  /** Clock in milliseconds (only differences matter). Default `performance.now`. Tests inject a fake. */
  now?: () => number;
  /** Non-TTY only: minimum milliseconds between two progress lines, >= 0. Default 2000. */
  logIntervalMs?: number;
}

export interface ProgressBar {
  /** Sets the count done so far (and the total, when given); ignored after `finish`. */
  update(loaded: number, total?: number | null): void;
  /** Adds `n` (default 1) to the count done. */
  tick(n?: number): void;
  /** Draws the final state and ends the line; later calls do nothing. */
  finish(): void;
}

/** Terminal redraws at most this often: faster is invisible and costs CPU on big downloads. */
const TTY_INTERVAL_MS = 100;
const DEFAULT_LOG_INTERVAL_MS = 2000;
const BAR_WIDTH = 20;
/** ANSI "erase to end of line": a shorter redraw must not leave the tail of the previous one. */
const CLEAR_EOL = "\x1b[K";

export function createProgressBar(opts: ProgressBarOptions): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const tty = stream.isTTY === true;
  const interval = tty ? TTY_INTERVAL_MS : (opts.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS);
  const unit = opts.unit ?? "items";
  const start = now();
  const state = { loaded: 0, total: opts.total ?? null, lastDraw: start, finished: false };

  const draw = (final: boolean): void => {
    const line = renderLine(opts.label, state.loaded, state.total, unit, now() - start, final);
    if (tty) stream.write(`\r${fit(line, stream.columns)}${CLEAR_EOL}${final ? "\n" : ""}`);
    else stream.write(`${line}\n`);
  };

  const update = (loaded: number, total?: number | null): void => {
    if (state.finished) return;
    state.loaded = loaded;
    if (total !== undefined) state.total = total;
    const t = now();
    if (t - state.lastDraw < interval) return;
    state.lastDraw = t;
    draw(false);
  };

  return {
    update,
    tick: (n = 1) => update(state.loaded + n),
    finish: () => {
      if (state.finished) return;
      state.finished = true;
      draw(true);
    },
  };
}

/**
 * Returns a listener for hub download events that shows one bar per downloaded file (cache hits print
 * nothing). Files are expected one at a time, as `snapshotDownload` fetches them; concurrent downloads
 * would share the terminal line.
 */
export function hubProgressPrinter(
  stream: ProgressStream = process.stderr,
  opts: Pick<ProgressBarOptions, "now" | "logIntervalMs"> = {},
): (e: DownloadProgress) => void {
  const bars = new Map<string, ProgressBar>();
  return (e) => {
    switch (e.status) {
      case "download":
        bars.set(`${e.repo}\0${e.file}`, createProgressBar({ ...opts, stream, label: `${e.repo}/${e.file}`, unit: "B" }));
        return;
      case "progress":
        bars.get(`${e.repo}\0${e.file}`)?.update(e.loaded, e.total);
        return;
      case "done":
        bars.get(`${e.repo}\0${e.file}`)?.finish();
        bars.delete(`${e.repo}\0${e.file}`);
        return;
      case "initiate":
      case "ready":
        return;
    }
  };
}

/** One status line; `final` replaces the ETA by the elapsed time. */
export function renderLine(label: string, loaded: number, total: number | null, unit: ProgressUnit, elapsedMs: number, final: boolean): string {
  const parts = [label];
  if (total !== null && total > 0) {
    const ratio = Math.min(1, Math.max(0, loaded / total));
    const filled = Math.round(ratio * BAR_WIDTH);
    parts.push(`${Math.floor(ratio * 100)}%`.padStart(4), `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`);
    parts.push(`${formatAmount(loaded, unit)}/${formatAmount(total, unit)}`);
  } else {
    parts.push(formatAmount(loaded, unit));
  }
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? loaded / seconds : 0;
  if (rate > 0) parts.push(`${formatAmount(rate, unit)}/s`);
  if (final) parts.push(`in ${formatDuration(seconds)}`);
  else if (total !== null && rate > 0 && loaded < total) parts.push(`ETA ${formatDuration((total - loaded) / rate)}`);
  return parts.join(" ");
}

/** 1536 B -> "1.5 KiB"; 1234 tokens -> "1.2k tokens". Counts below 1000 stay exact. */
export function formatAmount(n: number, unit: ProgressUnit): string {
  if (unit === "B") return scaled(n, 1024, ["B", "KiB", "MiB", "GiB", "TiB"], " ");
  return `${scaled(n, 1000, ["", "k", "M", "G", "T"], "")} ${unit}`;
}

function scaled(n: number, base: number, suffixes: string[], sep: string): string {
  let i = 0;
  while (n >= base && i < suffixes.length - 1) {
    n /= base;
    i++;
  }
  const digits = i === 0 ? (Number.isInteger(n) ? 0 : 1) : n < 10 ? 2 : 1;
  return `${n.toFixed(digits)}${sep}${suffixes[i] ?? ""}`;
}

/** 7.2 -> "7s", 185 -> "3m05s", 7300 -> "2h01m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Cuts to one character less than the width: writing into the last column wraps on some terminals. */
function fit(line: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
}
