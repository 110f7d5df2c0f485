/**
 * Prometheus text exposition (format 0.0.4) for the server, written by hand: a counter and a
 * histogram are a few lines each, and a client library would be a dependency for that.
 * Labels are bounded: the route *pattern* (`/indexes/:name/search`), never the raw URL.
 */

/** Latency buckets in seconds (upper bounds). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly requests = new Map<string, { labels: Record<string, string>; n: number }>();
  private readonly latency = new Map<string, Histogram>();

  /** Records one answered request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    const key = labelText(labels);
    const r = this.requests.get(key) ?? { labels, n: 0 };
    r.n++;
    this.requests.set(key, r);
    const h = this.latency.get(route) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) h.counts[i] = (h.counts[i] ?? 0) + 1;
    });
    h.sum += seconds;
    h.count++;
    this.latency.set(route, h);
  }

  /** The exposition text: request counters and latency histograms, then the given gauges. */
  render(gauges: { name: string; help: string; type?: "gauge" | "counter"; values: { labels?: Record<string, string>; value: number }[] }[]): string {
    const out: string[] = [];
    out.push("# HELP colts_http_requests_total HTTP requests answered, by method, route pattern and status.");
    out.push("# TYPE colts_http_requests_total counter");
    for (const r of this.requests.values()) out.push(`colts_http_requests_total${labelText(r.labels)} ${r.n}`);
    out.push("# HELP colts_http_request_duration_seconds Time from request to answer, by route pattern.");
    out.push("# TYPE colts_http_request_duration_seconds histogram");
    for (const [route, h] of this.latency) {
      BUCKETS.forEach((b, i) => out.push(`colts_http_request_duration_seconds_bucket${labelText({ route, le: String(b) })} ${h.counts[i] ?? 0}`));
      out.push(`colts_http_request_duration_seconds_bucket${labelText({ route, le: "+Inf" })} ${h.count}`);
      out.push(`colts_http_request_duration_seconds_sum${labelText({ route })} ${h.sum}`);
      out.push(`colts_http_request_duration_seconds_count${labelText({ route })} ${h.count}`);
    }
    for (const g of gauges) {
      out.push(`# HELP ${g.name} ${g.help}`);
      out.push(`# TYPE ${g.name} ${g.type ?? "gauge"}`);
      for (const v of g.values) out.push(`${g.name}${labelText(v.labels ?? {})} ${v.value}`);
    }
    return `${out.join("\n")}\n`;
  }
}
