/** The OpenAPI 3.1 document, generated from the same route table the server registers. */
import type { RouteDef } from "./routes/api.js";
import type { Schemas } from "./schemas.js";

export function openApiDocument(routes: readonly RouteDef[], s: Schemas, version: string, withAuth: boolean): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const url = r.url.replace(/:(\w+)/g, "{$1}");
    const params = [...r.url.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    const ok = r.produces
      ? { description: "OK", content: { [r.produces]: { schema: { type: "string" } } } }
      : { description: "OK", content: { "application/json": { schema: r.response ?? { type: "object" } } } };
    const error = { description: "Error (see error.code)", content: { "application/json": { schema: s.error } } };
    paths[url] = {
      ...(paths[url] ?? {}),
      [r.method.toLowerCase()]: {
        summary: r.summary,
        tags: [r.tag],
        ...(params.length ? { parameters: params } : {}),
        ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: r.body } } } } : {}),
        responses: { "200": ok, "4XX": error, "5XX": error },
        ...(withAuth && r.url !== "/health" ? { security: [{ bearer: [] }] } : {}),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "colts", version, description: "ColBERT late-interaction retrieval over HTTP. Errors are {error: {code, message}}." },
    paths,
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } }, schemas: { Error: s.error } },
  };
}
