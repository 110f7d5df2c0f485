/**
 * Preloaded with `node --import` by test/architecture/entry.test.ts: registers load-trace-hooks.ts,
 * which prints every module URL that gets resolved to stderr as `LOADED <url>`.
 */
import { register } from "node:module";

register(new URL("./load-trace-hooks.js", import.meta.url));
