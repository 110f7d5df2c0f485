import { test } from "node:test";
import assert from "node:assert/strict";
import { lineChart } from "../../bench/tools/svg-chart.js";

test("lineChart draws one path and one legend entry per series, escaping labels", () => {
  const svg = lineChart({
    title: "latency <vs> recall",
    xLabel: "p50 ms",
    yLabel: "recall@10",
    series: [
      { name: "colts", points: [[5, 0.9], [9, 0.97]] },
      { name: "exhaustive", points: [[120, 1]] },
    ],
  });
  assert.match(svg, /^<svg /);
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.equal((svg.match(/<circle /g) ?? []).length, 3);
  assert.ok(svg.includes("latency &lt;vs&gt; recall"));
  assert.ok(svg.includes(">exhaustive<"));
});
