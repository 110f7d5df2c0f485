/**
 * What a request must satisfy beyond its JSON schema, and how a search request becomes the engine's
 * queries and options. Shared by the HTTP routes (routes/api.ts) and the MCP tools (mcp/), so both
 * front ends refuse the same requests with the same codes and messages.
 */
import { ColtsError } from "../errors.js";
import { DEFAULT_K } from "../plaid/stages.js";
import type { RetrieveOptions, RetrieverName } from "../search/searcher.js";
import type { QueryInput } from "./engine.js";
import type { AddRequest } from "./tasks.js";

/** A query as the API receives it: text, or vectors already encoded with the index's model. */
export type ApiQuery = string | { vectors: number[][] };

/** A search request that passed `schemas().search` (fields documented there). */
export interface SearchBody {
  query?: ApiQuery;
  queries?: ApiQuery[];
  k?: number;
  retriever?: RetrieverName;
  depth?: number;
  params?: RetrieveOptions["params"];
  filter?: string;
  ids?: string[];
  explain?: boolean;
  postgres?: RetrieveOptions["postgres"];
}

/**
 * The engine's queries and options for a search body: exactly one of query and queries, explain only
 * with text queries (INPUT_INVALID otherwise); defaults k = DEFAULT_K, retriever plaid, no explanations.
 */
export function searchRequest(b: SearchBody): { queries: QueryInput[]; options: RetrieveOptions } {
  if ((b.query === undefined) === (b.queries === undefined)) throw new ColtsError("INPUT_INVALID", "give exactly one of query or queries");
  const list = b.queries ?? [b.query as ApiQuery];
  const queries: QueryInput[] = list.map((q) => (typeof q === "string" ? { text: q } : { vectors: q.vectors }));
  if (b.explain && queries.some((q) => "vectors" in q)) throw new ColtsError("INPUT_INVALID", "explain needs text queries (token strings come from the text)");
  const options: RetrieveOptions = {
    k: b.k ?? DEFAULT_K,
    retriever: b.retriever ?? "plaid",
    explain: b.explain ?? false,
    ...(b.depth !== undefined ? { depth: b.depth } : {}),
    ...(b.params ? { params: b.params } : {}),
    ...(b.filter !== undefined ? { filter: b.filter } : {}),
    ...(b.ids ? { ids: b.ids } : {}),
    ...(b.postgres ? { postgres: b.postgres } : {}),
  };
  return { queries, options };
}

/**
 * JSON numbers beyond the range of a double (1e400) parse to Infinity, which the metadata store
 * refuses only after encoding, naming a row; refused here first, by the field's place in the body
 * (written `documents[1].metadata.year`: slashes would read as a file path to the message scrubber).
 */
function checkFinite(v: unknown, where: string): void {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new ColtsError("INPUT_INVALID", `${where} is a number beyond the range of a double; send it as a string`);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => checkFinite(x, `${where}[${i}]`));
  } else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) checkFinite(x, `${where}.${k}`);
  }
}

/** Documents to add that passed `schemas().addDocuments`: no id twice, no metadata number beyond a double (INPUT_INVALID). */
export function checkNewDocuments(documents: AddRequest["documents"]): void {
  const seen = new Set<string>();
  documents.forEach((d, i) => {
    if (seen.has(d.id)) throw new ColtsError("INPUT_INVALID", `document id ${JSON.stringify(d.id)} appears twice in the request`);
    seen.add(d.id);
    checkFinite(d.metadata, `documents[${i}].metadata`);
  });
}

/** Ids to delete: an id given twice is deleted once and reported once (as deleted or as missing, not both). */
export function uniqueIds(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
