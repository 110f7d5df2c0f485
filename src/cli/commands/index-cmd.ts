/**
 * `colts index build|add|delete|compact|info|upgrade`: writes and inspects indexes at a location, a folder
 * (PLAID files) or a PostgreSQL URL (location/).
 */
import path from "node:path";
import { ANALYZER_NAMES, builtInAnalyzer } from "../../bm25/analyzers.js";
import { ColBERT } from "../../encode/colbert.js";
import { ColtsError } from "../../errors.js";
import { checkCorpus, corpusFile, readCorpusRecords, spoolToFile, type CheckedCorpus, type CorpusOptions, type CorpusRecord } from "../../corpus/reader.js";
import { MetadataStore } from "../../metadata/sqlite-store.js";
import { readTombstones } from "../../plaid/files.js";
import { encodedCorpusSource } from "../../plaid/corpus.js";
import { locationKind, printableLocation } from "../../location/open.js";
import { summarize } from "../../location/summary.js";
import { addAt, buildAt, compactAt, deleteAt, pgInfo, upgradeAt } from "../../location/write.js";
import { PlaidIndex } from "../../plaid/plaid-index.js";
import { readManifest } from "../../plaid/validate.js";
import { intFlag, numberFlag, oneOf, parse, stringFlag, usageError, type Command, type CommandSpec, type FlagSpec, type Values } from "../args.js";
import { MODEL_FLAGS, modelLoadOptions } from "../model-flags.js";
import { modelLocation, resolveIndexLocation, resolvePath, writeOut, type CliIO } from "../io.js";

/** The help pages' word on locations (every index sub-command takes one). */
const LOCATION_NOTE =
  "<location> is an index folder or a PostgreSQL URL, postgres://user[:password]@host:port/database?prefix=colts_ (the password may come from PGPASSWORD instead; it is never printed)."
import { createProgressBar } from "../progress.js";

/** Where documents come from and how their fields are read (build and add). */
const CORPUS_FLAGS: FlagSpec[] = [
  { name: "input", short: "i", type: "string", arg: "SRC", help: "corpus: a JSONL file, a BEIR folder (its corpus.jsonl) or - for stdin (required)" },
  { name: "id-field", type: "string", arg: "NAME", default: "_id, else id", help: "JSON field holding the document id" },
  { name: "text-field", type: "string", arg: "NAME", default: "text", help: "JSON field holding the text" },
  { name: "title-field", type: "string", arg: "NAME", default: "title", help: "JSON field holding a title, prepended to the text" },
  { name: "metadata-fields", type: "string", arg: "a,b", default: "none", help: "fields stored as metadata (for --filter and results)" },
  { name: "batch-size", type: "string", arg: "N", default: "256", help: "documents per encode call, 1..100000" },
];

const MODEL_FLAG: FlagSpec = { name: "model", short: "m", type: "string", arg: "M", help: "model folder or hub id org/name[@revision]" };

const BUILD_SPEC: CommandSpec = {
  name: "index build",
  summary: "encode a corpus and write a new index (a folder: PLAID files with a BM25 index of its texts; or PostgreSQL tables)",
  usage: ["<location> --model M --input <corpus.jsonl | BEIR dir | ->"],
  description:
    "The whole corpus is checked before the model is loaded: bad JSON, empty or repeated ids, ids like 1.0 (write them as strings) and metadata values the index cannot store (1e400) are reported as file:line. " +
    `${LOCATION_NOTE} A PostgreSQL build ignores --bm25-analyzer, --mecab-dic and --sample-memory (its keyword side is PostgreSQL full-text search).`,
  flags: [
    { ...MODEL_FLAG, help: `${MODEL_FLAG.help} (required)` },
    ...CORPUS_FLAGS,
    { name: "nbits", type: "string", arg: "1|2|4", default: "2", help: "residual bits per dimension: more is closer to exact scores, bigger" },
    { name: "pool-factor", type: "string", arg: "N", default: "1 (none)", help: "token pooling: 2 halves the stored vectors, 1..64" },
    { name: "centroids", type: "string", arg: "K", default: "2^floor(log2(16 sqrt(vectors)))", help: "number of k-means centroids" },
    { name: "assignment", type: "string", arg: "auto|exact|two-level", default: "auto", help: "nearest-centroid search (auto: two-level from 16,384 centroids)" },
    { name: "bm25-analyzer", type: "string", arg: "english|cjk|japanese", default: "english", help: "analyser of the BM25 index" },
    { name: "mecab-dic", type: "string", arg: "DIR", default: "$COLTS_MECAB_DICDIR or searched", help: "compiled MeCab dictionary for --bm25-analyzer japanese" },
    { name: "sample-memory", type: "string", arg: "GIB", default: "1", help: "codec sample vectors kept in memory for the index pass (each document is encoded once); a larger sample goes to a temporary file in the index folder" },
    { name: "overwrite", type: "boolean", help: "replace an index already at <location>" },
    {
      name: "shards",
      type: "string",
      arg: "URL,URL",
      default: "none (one node)",
      help: "PostgreSQL only: shard nodes (a power of two of postgres:// URLs, the coordinator's role and password) for a sharded index whose coordinator is <location>; later commands name the coordinator alone",
    },
    { name: "fde", type: "boolean", help: "PostgreSQL only: store MUVERA FDEs and their HNSW index, for search --first-stage fde (the default IVF stage needs neither)" },
    { name: "hnsw-m", type: "string", arg: "N", default: "16 (pgvector's)", help: "PostgreSQL, with --fde: HNSW links per node, 2..100; more: better recall at the same ef_search, slower build, bigger index" },
    { name: "hnsw-ef-construction", type: "string", arg: "N", default: "64 (pgvector's)", help: "PostgreSQL, with --fde: HNSW candidate list while building, 4..1000 and >= 2 x m; more: better graph, slower build" },
    ...MODEL_FLAGS,
  ],
  example: "colts index build idx --model lightonai/answerai-colbert-small-v1 --input beir/scifact --nbits 2\n  colts index build 'postgres://colts@localhost/search?prefix=scifact_' --model lightonai/answerai-colbert-small-v1 --input beir/scifact",
};

const ADD_SPEC: CommandSpec = {
  name: "index add",
  summary: "encode more documents and add them to an index",
  usage: ["<location> --input <corpus>"],
  description: `The corpus is checked as for index build, and ids already live in a folder index are refused with file:line, before anything is encoded (a PostgreSQL index refuses them as their batch arrives). ${LOCATION_NOTE}`,
  flags: [{ ...MODEL_FLAG, default: "the model the index records" }, ...CORPUS_FLAGS, ...MODEL_FLAGS],
  example: "colts index add idx --input new-docs.jsonl",
};

const DELETE_SPEC: CommandSpec = {
  name: "index delete",
  summary: "delete documents from an index by id",
  usage: ["<location> --ids a,b,c"],
  description: LOCATION_NOTE,
  flags: [{ name: "ids", type: "string", arg: "a,b,c", help: "comma-separated document ids (required)" }],
  example: "colts index delete idx --ids doc-17,doc-18",
};

const COMPACT_SPEC: CommandSpec = {
  name: "index compact",
  summary: "rewrite an index without its deleted documents (PostgreSQL: VACUUM (ANALYZE) of its tables)",
  usage: ["<location>"],
  description: `${LOCATION_NOTE} A PostgreSQL index keeps no deleted rows to drop: compacting it runs VACUUM (ANALYZE); --recluster is refused there (rebuild with --overwrite).`,
  flags: [{ name: "recluster", type: "boolean", help: "also retrain the centroids and re-compress every vector (after much new data)" }],
  example: "colts index compact idx --recluster",
};

const UPGRADE_SPEC: CommandSpec = {
  name: "index upgrade",
  summary: "bring a PostgreSQL index written by an older colts to the current schema, in place",
  usage: ["<postgres-url>"],
  description:
    "Adds what the current schema has and the index lacks, made from the data it holds: nothing is encoded again. " +
    "Schema 2 (one node) becomes 4 and 3 (sharded: the coordinator and every shard) becomes 5, gaining the IVF lists the default search reads, built from the stored codes. " +
    "One transaction per node under the index's write lock; running it again finishes an interrupted upgrade, and an index already current is left as it is. " +
    "Schema 1 cannot be upgraded (rebuild it with --overwrite); a folder index needs no upgrade.",
  flags: [{ name: "json", type: "boolean", help: "print {from, to, documents} as JSON instead of a sentence" }],
  example: "colts index upgrade 'postgres://colts@127.0.0.1:5432/colts?prefix=colts_'",
};

const INFO_SPEC: CommandSpec = {
  name: "index info",
  summary: "print an index's statistics after checking its files",
  usage: ["<location>"],
  description:
    "Checks every file of a folder index first: the checksums of the codec, chunk, tombstone and BM25 files and SQLite's quick_check of the metadata database (reads every byte once); a damaged file fails with INDEX_CORRUPT naming it. " +
    `A PostgreSQL index reports its schema version and PostgreSQL's own table sizes (location redacted). ${LOCATION_NOTE}`,
  flags: [
    { name: "json", type: "boolean", help: "print JSON instead of a table" },
    { name: "no-verify", type: "boolean", help: "skip the checksums and the database check (structure and counts are still checked)" },
  ],
  example: "colts index info idx --json",
};

function corpusOptions(values: Values): CorpusOptions {
  const fields = stringFlag(values, "metadata-fields");
  return {
    ...(stringFlag(values, "id-field") ? { idField: stringFlag(values, "id-field") } : {}),
    ...(stringFlag(values, "text-field") ? { textField: stringFlag(values, "text-field") } : {}),
    ...(stringFlag(values, "title-field") ? { titleField: stringFlag(values, "title-field") } : {}),
    ...(fields ? { metadataFields: fields.split(",").map((f) => f.trim()).filter(Boolean) } : {}),
  };
}

/** The one <location> argument, a folder made absolute or a PostgreSQL URL as typed. */
function oneLocation(io: CliIO, positionals: string[], spec: CommandSpec): string {
  const location = positionals[0];
  if (!location || positionals.length !== 1) throw usageError(spec, "expected one <location>");
  return resolveIndexLocation(io, location);
}

/**
 * Opens the corpus (spooling stdin) and checks every line of it, ids included, before the model is
 * even loaded: a bad line fails in seconds, not after an hour of encoding. Then loads the model,
 * runs `fn`, and cleans up.
 */
async function withCorpus<T>(
  io: CliIO,
  spec: CommandSpec,
  values: Values,
  model: string,
  fn: (corpus: CheckedCorpus, colbert: ColBERT) => Promise<T>,
  precheck?: (corpus: CheckedCorpus) => Promise<void>,
): Promise<T> {
  const input = stringFlag(values, "input");
  if (!input) throw usageError(spec, "--input is required");
  const loadOptions = modelLoadOptions(values, io);
  const spooled = input === "-" ? await spoolToFile(io.stdin) : null;
  try {
    const file = spooled?.file ?? corpusFile(resolvePath(io, input));
    const corpus = await checkCorpus(file, { ...corpusOptions(values), ...(spooled ? { name: "<stdin>" } : {}) });
    await precheck?.(corpus);
    const colbert = await ColBERT.load(modelLocation(io, model), loadOptions);
    try {
      return await fn(corpus, colbert);
    } finally {
      await colbert.close();
    }
  } finally {
    spooled?.cleanup();
  }
}

/**
 * Refuses, with `file:line`, a document whose id is live in the index at `dir`, before anything is
 * encoded (addToIndex refuses it too, but only when its batch arrives and without a line). Ids are
 * looked up a batch at a time in the metadata database, read-only.
 */
async function refuseIdsInIndex(dir: string, corpus: CheckedCorpus): Promise<void> {
  const m = readManifest(dir);
  const deleted = readTombstones(dir, m);
  const store = MetadataStore.open(path.join(dir, m.metadataFile), { readonly: true });
  const name = corpus.options.name ?? corpus.file;
  try {
    let batch: CorpusRecord[] = [];
    const check = (): void => {
      const live = store.ordinalsForIds(batch.map((r) => r.id), m.numDocs, (o) => !deleted.has(o));
      const hit = batch.find((r) => live.has(r.id));
      if (hit) {
        throw new ColtsError("INPUT_INVALID", `${name}:${hit.line}: document id ${JSON.stringify(hit.id)} is already in the index (delete it first to replace it)`, {
          details: { file: name, line: hit.line, id: hit.id },
        });
      }
      batch = [];
    };
    // Duplicates within the input were refused by the first pass.
    for await (const r of readCorpusRecords(corpus.file, { ...corpus.options, checkDuplicates: false })) {
      batch.push(r);
      if (batch.length >= 1024) check();
    }
    check();
  } finally {
    store.close();
  }
}

/** What each build phase's bar says it counts: sampled documents encoded, k-means rounds (+ calibration), documents compressed. */
const PHASE_LABELS: Record<string, string> = { sample: "encoding the codec sample", train: "k-means rounds", index: "indexing" };

function progress(io: CliIO): (e: { phase: string; done: number; total: number }) => void {
  const bars = new Map<string, ReturnType<typeof createProgressBar>>();
  return (e) => {
    let bar = bars.get(e.phase);
    if (!bar) {
      bar = createProgressBar({ stream: io.stderr, label: PHASE_LABELS[e.phase] ?? e.phase, total: e.total, unit: "items" });
      bars.set(e.phase, bar);
    }
    bar.update(e.done, e.total);
    if (e.done >= e.total) bar.finish();
  };
}

async function build(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, BUILD_SPEC);
  const dir = oneLocation(io, positionals, BUILD_SPEC);
  const model = stringFlag(values, "model");
  if (!model) throw usageError(BUILD_SPEC, "--model is required");
  const nbits = oneOf(values, "nbits", ["1", "2", "4"] as const);
  const poolFactor = intFlag(values, "pool-factor", 1, 64);
  const batchSize = intFlag(values, "batch-size", 1, 100_000);
  // Codec size and how vectors are assigned to centroids (BuildOptions.numCentroids / assignment).
  const numCentroids = intFlag(values, "centroids", 1, 1 << 22);
  const assignment = oneOf(values, "assignment", ["auto", "exact", "two-level"] as const);
  // BM25 analyser: english (default), cjk (bigrams) or japanese (MeCab; --mecab-dic or $COLTS_MECAB_DICDIR).
  const analyzerName = oneOf(values, "bm25-analyzer", ANALYZER_NAMES);
  const mecabDic = stringFlag(values, "mecab-dic");
  const bm25Analyzer = analyzerName ? builtInAnalyzer(analyzerName, mecabDic ? { mecabDicDir: resolvePath(io, mecabDic) } : {}) : undefined;
  const sampleMemoryGiB = numberFlag(values, "sample-memory", 0, 1e6);
  const shards = stringFlag(values, "shards")
    ?.split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  const m = intFlag(values, "hnsw-m", 2, 100);
  const efConstruction = intFlag(values, "hnsw-ef-construction", 4, 1000);
  const hnsw = m !== undefined || efConstruction !== undefined ? { ...(m !== undefined ? { m } : {}), ...(efConstruction !== undefined ? { efConstruction } : {}) } : undefined;
  await withCorpus(io, BUILD_SPEC, values, model, async (corpus, colbert) => {
    const source = await encodedCorpusSource(corpus, colbert, batchSize ? { batchSize } : {});
    return buildAt(dir, source, colbert.dim, {
      model: modelLocation(io, model),
      ...(nbits ? { nbits: Number(nbits) as 1 | 2 | 4 } : {}),
      ...(poolFactor ? { poolFactor } : {}),
      ...(numCentroids ? { numCentroids } : {}),
      ...(assignment ? { assignment } : {}),
      ...(sampleMemoryGiB !== undefined ? { sampleMemoryBytes: Math.round(sampleMemoryGiB * 2 ** 30) } : {}),
      overwrite: values["overwrite"] === true,
      onProgress: progress(io),
      ...(bm25Analyzer ? { bm25Analyzer } : {}),
      ...(shards ? { shards } : {}),
      ...(hnsw ? { hnsw } : {}),
      ...(values["fde"] === true ? { fde: true } : {}),
    });
  });
  const built = await summarize(dir);
  await writeOut(io.stdout, `built ${built.location}: ${built.liveDocuments} documents, ${built.vectors} vectors, ${built.centroids} centroids, nbits ${built.nbits}\n`);
  return 0;
}

async function add(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, ADD_SPEC);
  const dir = oneLocation(io, positionals, ADD_SPEC);
  // The index is read for its model only when --model is not given (as before: flags are checked first).
  const model = stringFlag(values, "model") ?? (await summarize(dir)).model;
  if (!model) throw new ColtsError("USAGE", "colts index add: the index records no model; pass --model");
  const batchSize = intFlag(values, "batch-size", 1, 100_000);
  await withCorpus(io, ADD_SPEC, values, model, async (corpus, colbert) =>
    addAt(dir, await encodedCorpusSource(corpus, colbert, batchSize ? { batchSize } : {}), { onProgress: progress(io) }),
    // A folder's ids are looked up before encoding; PostgreSQL refuses a live id as its batch arrives.
    locationKind(dir) === "folder" ? (corpus) => refuseIdsInIndex(dir, corpus) : undefined,
  );
  const m = await summarize(dir);
  await writeOut(io.stdout, `${m.location}: ${m.liveDocuments} live documents (generation ${m.generation})${m.drifted ? driftNote(m.kind) : ""}\n`);
  return 0;
}

function driftNote(kind: "folder" | "postgres"): string {
  return kind === "folder"
    ? "\nnote: the new documents sit far from the index's centroids; run `colts index compact <location> --recluster`"
    : "\nnote: the new documents sit far from the index's centroids; rebuild it (colts index build <location> --overwrite)";
}

async function remove(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, DELETE_SPEC);
  const dir = oneLocation(io, positionals, DELETE_SPEC);
  // An id given twice is deleted once and reported once (as the server's DELETE does).
  const ids = [...new Set((stringFlag(values, "ids") ?? "").split(",").map((s) => s.trim()).filter(Boolean))];
  if (ids.length === 0) throw usageError(DELETE_SPEC, "--ids a,b,c is required");
  const r = await deleteAt(dir, ids);
  await writeOut(io.stdout, `deleted ${r.deleted.length}${r.missing.length ? `; not found: ${r.missing.join(",")}` : ""}\n`);
  return r.missing.length > 0 && r.deleted.length === 0 ? 1 : 0;
}

async function upgrade(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, UPGRADE_SPEC);
  const location = oneLocation(io, positionals, UPGRADE_SPEC);
  const r = await upgradeAt(location);
  if (values["json"] === true) {
    await writeOut(io.stdout, `${JSON.stringify(r)}\n`);
    return 0;
  }
  const what = r.from === r.to ? `already at schema version ${r.to}: nothing to do` : `upgraded from schema version ${r.from} to ${r.to} (IVF lists made from the codes of ${r.documents} documents)`;
  await writeOut(io.stdout, `${printableLocation(location)}: ${what}\n`);
  return 0;
}

async function compact(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, COMPACT_SPEC);
  const dir = oneLocation(io, positionals, COMPACT_SPEC);
  const m = await compactAt(dir, { recluster: values["recluster"] === true });
  const what =
    m.kind === "folder"
      ? `compacted ${dir}: ${m.liveDocuments} documents in ${m.chunks} chunks, ${m.centroids} centroids`
      : `${printableLocation(dir)}: nothing to compact (deleted rows are gone already); VACUUM (ANALYZE) ran on ${m.vacuumed.join(", ")}`;
  await writeOut(io.stdout, `${what}\n`);
  return 0;
}

async function info(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, INFO_SPEC);
  const verify = values["no-verify"] !== true;
  const location = oneLocation(io, positionals, INFO_SPEC);
  if (locationKind(location) === "postgres") return pgInfoCommand(io, location, values["json"] === true);
  const index = await PlaidIndex.open(location, { verify });
  try {
    if (verify) await index.checkIntegrity();
    const i = index.info();
    if (values["json"]) await writeOut(io.stdout, `${JSON.stringify(i)}\n`);
    else {
      await writeRows(io, [
        ["documents", String(i.documents)],
        ...codecRows(i),
        ["format version", String(i.formatVersion)],
        ["size on disk", `${(i.sizeOnDisk / 1048576).toFixed(2)} MiB`],
        ["drift", i.drifted ? "new data far from centroids: run compact --recluster" : "ok"],
      ]);
    }
    return 0;
  } finally {
    await index.close();
  }
}

/** `colts index info` of a PostgreSQL index: PgIndex.info, location redacted. */
async function pgInfoCommand(io: CliIO, url: string, json: boolean): Promise<number> {
  const i = await pgInfo(url);
  if (json) {
    await writeOut(io.stdout, `${JSON.stringify(i)}\n`);
    return 0;
  }
  const total = Object.values(i.tableBytes).reduce((a, b) => a + b, 0);
  await writeRows(io, [
    ["location", i.location],
    ...codecRows(i),
    ["schema version", String(i.schemaVersion)],
    ["generation", String(i.generation)],
    ["table sizes", `${(total / 1048576).toFixed(2)} MiB (vectors ${(i.tableBytes.vectors / 1048576).toFixed(2)} MiB, IVF lists ${(i.tableBytes.ivf / 1048576).toFixed(2)} MiB)`],
    ["drift", i.drifted ? "new data far from centroids: rebuild with --overwrite" : "ok"],
    ...(i.shards ?? []).map((s): [string, string] => [s.node, `${s.documents} documents, ${s.vectors} vectors`]),
  ]);
  return 0;
}

/** The `index info` rows both kinds of location share, in their order. */
function codecRows(i: { liveDocuments: number; vectors: number; bytesPerVector: number; nbits: number; centroids: number; dim: number; poolFactor: number; model: string | null }): [string, string][] {
  return [
    ["live documents", String(i.liveDocuments)],
    ["vectors", String(i.vectors)],
    ["bytes per vector", i.bytesPerVector.toFixed(2)],
    ["nbits", String(i.nbits)],
    ["centroids", String(i.centroids)],
    ["dim", String(i.dim)],
    ["pool factor", String(i.poolFactor)],
    ["model", i.model ?? "-"],
  ];
}

/** `name value` lines, names padded to one column. */
function writeRows(io: CliIO, rows: [string, string][]): Promise<void> {
  return writeOut(io.stdout, rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join("\n") + "\n");
}

/** `colts index <sub>`: the sub-commands by name. */
export const INDEX_COMMANDS: Record<string, Command> = {
  build: { spec: BUILD_SPEC, run: build },
  add: { spec: ADD_SPEC, run: add },
  delete: { spec: DELETE_SPEC, run: remove },
  compact: { spec: COMPACT_SPEC, run: compact },
  info: { spec: INFO_SPEC, run: info },
  upgrade: { spec: UPGRADE_SPEC, run: upgrade },
};
