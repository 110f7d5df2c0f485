/**
 * `colts search <dir> "query"` (a ranked list, or JSON) and `colts search <dir> --queries <file>
 * --output run.trec` (a TREC run for evaluation). `colts rerank`: exact MaxSim over given candidates.
 */
import fs from "node:fs";
import { ColBERT } from "../../encode/colbert.js";
import { ColtsError } from "../../errors.js";
import { corpusFile, readCorpus } from "../../plaid/corpus.js";
import { DEFAULT_K } from "../../plaid/stages.js";
import { rerank } from "../../search/rerank.js";
import { RETRIEVERS, Searcher, type ExplainedHit, type RetrieveOptions } from "../../search/searcher.js";
import { intFlag, oneOf, parse, stringFlag } from "../args.js";
import { modelLocation, openInput, openOutput, resolvePath, writeOut, type CliIO } from "../io.js";
import { readRecords } from "../records.js";
import { hubProgressPrinter } from "../progress.js";

export const SEARCH_USAGE = `colts search <dir> "query" [-k 10] [--json] [--exact] [--filter EXPR] [--explain]
               [--retriever plaid|exact|bm25|bm25+rerank|hybrid] [--depth 100]
               [--ncells N] [--threshold X] [--ndocs N] [--model M]
  colts search <dir> --queries <queries.jsonl | .tsv | BEIR dir> --output run.trec [-k 100] [--tag colts]
  colts rerank --model M --query "q" --documents docs.jsonl [-k N] [--json]`;

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
  for await (const r of readRecords(openInput(io, file), p)) {
    const tab = r.text.indexOf("\t");
    const isTsv = r.id === String(out.length) && tab > 0 && !r.text.trimStart().startsWith("{");
    out.push(isTsv ? { id: r.text.slice(0, tab), text: r.text.slice(tab + 1) } : { id: r.id, text: r.text });
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

export async function searchCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      k: { type: "string", short: "k" },
      json: { type: "boolean" },
      exact: { type: "boolean" },
      filter: { type: "string" },
      explain: { type: "boolean" },
      ncells: { type: "string" },
      threshold: { type: "string" },
      ndocs: { type: "string" },
      model: { type: "string", short: "m" },
      queries: { type: "string" },
      output: { type: "string", short: "o" },
      tag: { type: "string" },
      workers: { type: "string" },
      offline: { type: "boolean" },
      retriever: { type: "string", short: "r" },
      depth: { type: "string" },
    },
    "colts search",
  );
  const [dir, query, ...extra] = positionals;
  const queriesFile = stringFlag(values, "queries");
  if (!dir || extra.length > 0 || (query === undefined) === (queriesFile === undefined)) {
    throw new ColtsError("USAGE", `colts search: give <dir> and either one "query" or --queries <file>\n${SEARCH_USAGE}`);
  }
  const k = intFlag(values, "k", 1, 10_000) ?? (queriesFile ? 100 : DEFAULT_K);
  const ncells = intFlag(values, "ncells", 1, 1 << 20);
  const ndocs = intFlag(values, "ndocs", 1, 1 << 24);
  const threshold = floatFlag(values, "threshold");
  const workers = intFlag(values, "workers", 0, 64);
  const model = stringFlag(values, "model");
  const retriever = oneOf(values, "retriever", RETRIEVERS);
  const depth = intFlag(values, "depth", 1, 100_000);
  const opts: RetrieveOptions = {
    k,
    ...(retriever ? { retriever } : {}),
    ...(depth ? { depth } : {}),
    exact: values["exact"] === true,
    explain: values["explain"] === true,
    params: { ...(ncells ? { ncells } : {}), ...(ndocs ? { ndocs } : {}), ...(threshold !== undefined ? { centroidScoreThreshold: threshold } : {}) },
    ...(stringFlag(values, "filter") !== undefined ? { filter: stringFlag(values, "filter") } : {}),
  };
  const searcher = await Searcher.open(resolvePath(io, dir), {
    ...(model ? { model: modelLocation(io, model) } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(values["offline"] ? { localFilesOnly: true } : {}),
    env: io.env,
    onProgress: hubProgressPrinter(io.stderr),
  });
  try {
    if (query !== undefined) {
      const [hits] = await searcher.search([query], opts);
      await writeOut(io.stdout, values["json"] ? `${JSON.stringify(hits)}\n` : `${formatHits(hits ?? [])}\n`);
      return 0;
    }
    const queries = await readQueries(io, queriesFile as string);
    const output = openOutput(io, stringFlag(values, "output") ?? "-");
    try {
      const tag = stringFlag(values, "tag") ?? "colts";
      for (let i = 0; i < queries.length; i += 64) {
        const batch = queries.slice(i, i + 64);
        const results = await searcher.search(batch.map((q) => q.text), opts);
        const lines = results.flatMap((hits, j) => hits.map((h, r) => `${batch[j]?.id} Q0 ${h.id} ${r + 1} ${h.score.toFixed(6)} ${tag}`));
        if (lines.length > 0) await writeOut(output.stream, `${lines.join("\n")}\n`);
      }
      await output.commit();
    } catch (e) {
      output.abort();
      throw e;
    }
    return 0;
  } finally {
    await searcher.close();
  }
}

export async function rerankCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { model: { type: "string", short: "m" }, query: { type: "string", short: "q" }, documents: { type: "string", short: "d" }, k: { type: "string", short: "k" }, json: { type: "boolean" } },
    "colts rerank",
  );
  const model = stringFlag(values, "model");
  const query = stringFlag(values, "query");
  const documents = stringFlag(values, "documents");
  if (!model || query === undefined || !documents || positionals.length > 0) throw new ColtsError("USAGE", `colts rerank: --model, --query and --documents are required\n${SEARCH_USAGE}`);
  const k = intFlag(values, "k", 1, 1_000_000);
  const docs: { id: string; text: string }[] = [];
  for await (const { doc } of readCorpus(corpusFile(resolvePath(io, documents)))) docs.push(doc);
  const colbert = await ColBERT.load(modelLocation(io, model), { env: io.env, onProgress: hubProgressPrinter(io.stderr) });
  try {
    const hits = await rerank(colbert, query, docs, k !== undefined ? { k } : {});
    await writeOut(io.stdout, values["json"] ? `${JSON.stringify(hits)}\n` : `${hits.map((h, i) => `${String(i + 1).padStart(3)}. ${h.score.toFixed(4)}  ${h.id}`).join("\n")}\n`);
    return 0;
  } finally {
    await colbert.close();
  }
}
