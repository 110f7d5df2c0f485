/**
 * `colts search <dir> "query"` (a ranked list, or JSON) and `colts search <dir> --queries <file>
 * --output run.trec` (a TREC run for evaluation). `colts rerank`: exact MaxSim over given candidates.
 */
import fs from "node:fs";
import { corpusFile, documentText, readCorpus, readCorpusRecords } from "../../corpus/reader.js";
import { ColBERT } from "../../encode/colbert.js";
import { ColtsError } from "../../errors.js";
import { missingShardsOf } from "../../location/partial.js";
import type { Hits } from "../../location/types.js";
import { DEFAULT_K } from "../../plaid/stages.js";
import { rerank } from "../../search/rerank.js";
import { RETRIEVERS, Searcher, type ExplainedHit, type RetrieveOptions } from "../../search/searcher.js";
import { intFlag, oneOf, parse, stringFlag, usageError, type CommandSpec } from "../args.js";
import { MODEL_FLAGS, modelLoadOptions } from "../model-flags.js";
import { modelLocation, openInput, openOutput, resolveIndexLocation, resolvePath, writeOut, type CliIO } from "../io.js";

/** `colts search`: its flags and help page, the one declaration that parsing and `--help` read. */
export const SEARCH_SPEC: CommandSpec = {
  name: "search",
  summary: "search an index: one query as a ranked list, or a query file as a TREC run",
  usage: ['<location> "query"', "<location> --queries <queries.jsonl | .tsv | BEIR dir> --output run.trec"],
  description: "<location> is an index folder or a PostgreSQL URL, postgres://user[:password]@host:port/database?prefix=colts_ (password from the URL or PGPASSWORD; never printed). On PostgreSQL, plaid runs PLAID over the IVF lists stored in the database (--ncells, --threshold, --ndocs), or with --first-stage fde takes MUVERA FDE candidates from an HNSW index, ranks them by their codes and scores the best by exact MaxSim (--candidates, --rerank, --ef-search); exact is its exhaustive search, keyword and hybrid use its full-text search (not BM25), and bm25 / bm25+rerank are refused.",
  flags: [
    { name: "k", short: "k", type: "string", arg: "N", default: "10; 100 with --queries", help: "hits per query, 1..10000" },
    { name: "json", type: "boolean", help: "print the hits as JSON" },
    { name: "retriever", short: "r", type: "string", arg: RETRIEVERS.join("|"), default: "plaid", help: "how candidates are found and scored" },
    { name: "exact", type: "boolean", help: "exact MaxSim over every document (same as --retriever exact)" },
    { name: "depth", type: "string", arg: "N", default: "100", help: "candidates from each first stage (bm25+rerank, hybrid)" },
    { name: "filter", type: "string", arg: "EXPR", help: "metadata filter, SQL-like: \"year >= 2000 AND lang IN ('en', 'fr')\"" },
    { name: "explain", type: "boolean", help: "show which document token each query token matched (not with --retriever bm25)" },
    { name: "ncells", type: "string", arg: "N", default: "1 for k <= 10, 2 for k <= 100, else 4", help: "PLAID: centroids probed per query token" },
    { name: "threshold", type: "string", arg: "X", default: "0.5 / 0.45 / 0.4 by k", help: "PLAID: centroid score below which candidates are pruned" },
    { name: "ndocs", type: "string", arg: "N", default: "256 / 1024 / max(4k, 4096) by k, doubled per doubling of the collection beyond 250,000 documents", help: "PLAID: candidates kept for exact scoring" },
    { name: "first-stage", type: "string", arg: "ivf|fde", default: "ivf", help: "PostgreSQL: candidates from the IVF lists (PLAID) or from FDEs in HNSW" },
    { name: "candidates", type: "string", arg: "N", default: "1000", help: "PostgreSQL: FDE candidates from the HNSW index, k..100000 (more: higher recall, slower)" },
    { name: "rerank", type: "string", arg: "N", default: "candidates / 4", help: "PostgreSQL: candidates scored by exact MaxSim after ranking them by their centroid codes, k..100000 (at candidates or more: all)" },
    { name: "ef-search", type: "string", arg: "N", default: "the candidate count, at most 1000", help: "PostgreSQL: pgvector hnsw.ef_search, 1..1000" },
    { name: "allow-partial", type: "boolean", help: "sharded PostgreSQL: if shards are down, rank the others' hits and name the missing shards on stderr (else SHARD_UNAVAILABLE)" },
    { name: "model", short: "m", type: "string", arg: "M", default: "the model the index records", help: "model to encode queries with" },
    { name: "queries", type: "string", arg: "FILE", help: 'query file: JSONL {"_id"|"id","text"}, TSV id<TAB>text, or a BEIR folder' },
    { name: "output", short: "o", type: "string", arg: "FILE", default: "-", help: "TREC run file (with --queries), written atomically (a symlink's target; a device or FIFO in place); - = stdout" },
    { name: "tag", type: "string", arg: "TAG", default: "colts", help: "run tag in the TREC run's last column" },
    ...MODEL_FLAGS,
  ],
  example: 'colts search idx "what is late interaction?" -k 5 --retriever hybrid',
};

/** `colts rerank`: its flags and help page, the one declaration that parsing and `--help` read. */
export const RERANK_SPEC: CommandSpec = {
  name: "rerank",
  summary: "score given documents against a query by exact MaxSim (no index)",
  usage: ['--model M --query "q" --documents docs.jsonl'],
  flags: [
    { name: "model", short: "m", type: "string", arg: "M", help: "model folder or hub id org/name[@revision] (required)" },
    { name: "query", short: "q", type: "string", arg: "TEXT", help: "the query (required)" },
    { name: "documents", short: "d", type: "string", arg: "FILE", help: "candidates: a JSONL corpus or a BEIR folder (required)" },
    { name: "k", short: "k", type: "string", arg: "N", default: "all", help: "hits to keep, 1..1000000" },
    { name: "json", type: "boolean", help: "print the hits as JSON" },
    ...MODEL_FLAGS,
  ],
  example: 'colts rerank --model lightonai/answerai-colbert-small-v1 --query "capital of France" --documents candidates.jsonl -k 3',
};

function floatFlag(values: Record<string, unknown>, name: string): number | undefined {
  const v = stringFlag(values, name);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new ColtsError("USAGE", `--${name} must be a number, got ${v}`);
  return x;
}

/** Query files: JSONL {"_id"|"id","text"}, TSV "id<TAB>text", plain lines, or a BEIR folder's queries.jsonl. */
async function readQueries(io: CliIO, p: string): Promise<{ id: string; text: string }[]> {
  let file = resolvePath(io, p);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = `${file}/queries.jsonl`;
  const out: { id: string; text: string }[] = [];
  // Plain lines are numbered by the reader, so its duplicate check would compare a TSV line's number,
  // not its id: query files keep their old rule (ids not checked).
  for await (const r of readCorpusRecords(openInput(io, file), { plainText: true, checkDuplicates: false, name: p })) {
    const tab = r.text.indexOf("\t");
    const isTsv = r.id === String(out.length) && tab > 0 && !r.text.trimStart().startsWith("{");
    out.push(isTsv ? { id: r.text.slice(0, tab), text: r.text.slice(tab + 1) } : { id: r.id, text: documentText(r.title, r.text) });
  }
  return out;
}

function formatHits(hits: ExplainedHit[]): string {
  return hits
    .map((h, i) => {
      const meta = h.metadata ? `  ${JSON.stringify(h.metadata)}` : "";
      const lines = [`${String(i + 1).padStart(3)}. ${h.score.toFixed(4)}  ${h.id}${meta}`];
      for (const m of h.explanation ?? []) lines.push(`       ${m.queryToken.padEnd(14)} -> ${m.documentToken.padEnd(14)} ${m.similarity.toFixed(3)}`);
      return lines.join("\n");
    })
    .join("\n");
}

/** `--allow-partial`: one line on stderr naming the shards that lists were ranked without (nothing when none were). */
async function warnPartial(io: CliIO, lists: readonly Hits<ExplainedHit>[]): Promise<void> {
  const marked = lists.filter((l) => l.partial !== undefined);
  if (marked.length === 0) return;
  const shards = missingShardsOf(marked);
  const which = lists.length === 1 ? "the results" : `${marked.length} of the queries' results`;
  await writeOut(io.stderr, `warning: partial: ${which} leave out ${shards.join(", ")}, which did not answer\n`);
}

export async function searchCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, SEARCH_SPEC);
  const [dir, query, ...extra] = positionals;
  const queriesFile = stringFlag(values, "queries");
  if (!dir || extra.length > 0 || (query === undefined) === (queriesFile === undefined)) {
    throw usageError(SEARCH_SPEC, 'give <location> and either one "query" or --queries <file>');
  }
  const k = intFlag(values, "k", 1, 10_000) ?? (queriesFile ? 100 : DEFAULT_K);
  const ncells = intFlag(values, "ncells", 1, 1 << 20);
  const ndocs = intFlag(values, "ndocs", 1, 1 << 24);
  const threshold = floatFlag(values, "threshold");
  const loadOptions = modelLoadOptions(values, io);
  const model = stringFlag(values, "model");
  const retriever = oneOf(values, "retriever", RETRIEVERS);
  const depth = intFlag(values, "depth", 1, 100_000);
  const candidates = intFlag(values, "candidates", 1, 100_000);
  const efSearch = intFlag(values, "ef-search", 1, 1000);
  const rerank = intFlag(values, "rerank", 1, 100_000);
  const allowPartial = values["allow-partial"] === true;
  const firstStage = oneOf(values, "first-stage", ["ivf", "fde"] as const);
  const postgres = {
    ...(firstStage !== undefined ? { firstStage } : {}),
    ...(candidates !== undefined ? { candidates } : {}),
    ...(efSearch !== undefined ? { efSearch } : {}),
    ...(rerank !== undefined ? { rerank } : {}),
    ...(allowPartial ? { allowPartial } : {}),
  };
  const opts: RetrieveOptions = {
    k,
    ...(retriever ? { retriever } : {}),
    ...(depth ? { depth } : {}),
    exact: values["exact"] === true,
    explain: values["explain"] === true,
    params: { ...(ncells ? { ncells } : {}), ...(ndocs ? { ndocs } : {}), ...(threshold !== undefined ? { centroidScoreThreshold: threshold } : {}) },
    ...(stringFlag(values, "filter") !== undefined ? { filter: stringFlag(values, "filter") } : {}),
    ...(Object.keys(postgres).length > 0 ? { postgres } : {}),
  };
  const searcher = await Searcher.open(resolveIndexLocation(io, dir), { ...loadOptions, ...(model ? { model: modelLocation(io, model) } : {}) });
  try {
    if (query !== undefined) {
      const [hits] = await searcher.search([query], opts);
      await writeOut(io.stdout, values["json"] ? `${JSON.stringify(hits)}\n` : `${formatHits(hits ?? [])}\n`);
      await warnPartial(io, hits ? [hits] : []);
      return 0;
    }
    const queries = await readQueries(io, queriesFile as string);
    const output = openOutput(io, stringFlag(values, "output") ?? "-");
    const partial: Hits<ExplainedHit>[] = [];
    try {
      const tag = stringFlag(values, "tag") ?? "colts";
      for (let i = 0; i < queries.length; i += 64) {
        const batch = queries.slice(i, i + 64);
        const results = await searcher.search(batch.map((q) => q.text), opts);
        const lines = results.flatMap((hits, j) => hits.map((h, r) => `${batch[j]?.id} Q0 ${h.id} ${r + 1} ${h.score.toFixed(6)} ${tag}`));
        if (lines.length > 0) await writeOut(output.stream, `${lines.join("\n")}\n`);
        partial.push(...results.filter((hits) => hits.partial !== undefined));
      }
      await output.commit();
      await warnPartial(io, partial);
    } catch (e) {
      await output.abort();
      throw e;
    }
    return 0;
  } finally {
    await searcher.close();
  }
}

export async function rerankCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, RERANK_SPEC);
  const model = stringFlag(values, "model");
  const query = stringFlag(values, "query");
  const documents = stringFlag(values, "documents");
  if (!model || query === undefined || !documents || positionals.length > 0) throw usageError(RERANK_SPEC, "--model, --query and --documents are required");
  const k = intFlag(values, "k", 1, 1_000_000);
  const loadOptions = modelLoadOptions(values, io);
  const docs: { id: string; text: string }[] = [];
  for await (const { doc } of readCorpus(corpusFile(resolvePath(io, documents)))) docs.push(doc);
  const colbert = await ColBERT.load(modelLocation(io, model), loadOptions);
  try {
    const hits = await rerank(colbert, query, docs, k !== undefined ? { k } : {});
    await writeOut(io.stdout, values["json"] ? `${JSON.stringify(hits)}\n` : `${hits.map((h, i) => `${String(i + 1).padStart(3)}. ${h.score.toFixed(4)}  ${h.id}`).join("\n")}\n`);
    return 0;
  } finally {
    await colbert.close();
  }
}
