#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/src/cli/main.js (built by `npm run build`).
import { runMain } from "../dist/src/cli/main.js";

process.exitCode = await runMain(process.argv.slice(2));
