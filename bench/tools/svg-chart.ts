/** Moved to src/util/svg-chart.ts (training charts use it too); re-exported for the benchmarks. */
export * from "../../src/util/svg-chart.js";
