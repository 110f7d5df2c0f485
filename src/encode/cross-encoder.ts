/**
 * Cross-encoders (BERT sequence classification: `[CLS] query [SEP] document [SEP]` -> logits), used
 * as teachers for distillation (`colts teacher --cross-encoder`). A folder holds `config.json`
 * (HF BertForSequenceClassification), the tokenizer files and an ONNX graph (`onnx/model.onnx` or
 * `model.onnx`, as optimum exports them) with inputs input_ids / attention_mask / token_type_ids and
 * output `logits` [batch, labels]. The score of a pair is the logit with one label, and
 * logit[1] - logit[0] (the log-odds of "relevant", monotone in its softmax probability) with two.
 */
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { ColtsError } from "../errors.js";
import { OnnxSession, type RuntimeOptions } from "../runtime/session.js";
import { padBatch, planBatches as planByLength } from "./batching.js";

/** One (query, document) pair laid out for the model; arrays of equal length. */
export interface PairTokens {
  /** Token ids: `[CLS] query [SEP] document [SEP]`. */
  ids: number[];
  /** Token type per id: 0 for `[CLS] query [SEP]`, 1 for `document [SEP]`. */
  types: number[];
}

/**
 * `[CLS] q [SEP] d [SEP]` with token types 0 for `[CLS] q [SEP]` and 1 for `d [SEP]`, truncated to
 * `maxLength` tokens longest-first (a token comes off the longer text, the document on a tie), as
 * Hugging Face tokenizers truncate pairs by default.
 */
export function layoutPair(query: number[], document: number[], cls: number, sep: number, maxLength: number): PairTokens {
  const room = maxLength - 3;
  if (room < 2) throw new ColtsError("INPUT_INVALID", `maxLength ${maxLength} leaves no room for a query and a document`);
  let q = query.length;
  let d = document.length;
  while (q + d > room) {
    if (q > d) q--;
    else d--;
  }
  const ids = [cls, ...query.slice(0, q), sep, ...document.slice(0, d), sep];
  return { ids, types: ids.map((_, i) => (i < q + 2 ? 0 : 1)) };
}

/**
 * Groups sequences into batches of at most `tokenBudget` padded tokens (batch size x longest
 * sequence in it) and `maxBatch` sequences (default 256; both >= 1, checked): sorted by length,
 * longest first, so sequences of similar length share a batch and little is padding. A sequence
 * longer than the budget gets a batch alone. Returns the indices of each batch. The rule is
 * batching.ts' planBatches, shared with the ColBERT encoder (same sort, same cut).
 */
export function planBatches(lengths: readonly number[], tokenBudget: number, maxBatch = 256): number[][] {
  if (!(tokenBudget >= 1) || !(maxBatch >= 1)) throw new ColtsError("INPUT_INVALID", `token budget and batch size must be >= 1, got ${tokenBudget}, ${maxBatch}`);
  return planByLength(lengths, { maxRows: maxBatch, maxTokens: tokenBudget });
}

/** Options of {@link CrossEncoder.load}: the runtime's (threads, execution provider) and these. */
export interface CrossEncoderOptions extends RuntimeOptions {
  /** Longest pair in tokens. Default: min(512, the tokenizer's model_max_length, the model's positions). */
  maxLength?: number;
  /** Padded tokens per graph run (batch x longest pair); bounds memory. Default 16384. */
  tokenBudget?: number;
}

/** A (query, document) pair to score. */
export interface ScorePair {
  /** The query text. */
  query: string;
  /** The document text as the model should see it (`colts teacher` joins title and body with documentText). */
  document: string;
}

type Json = Record<string, unknown>;

/** A special token in tokenizer_config.json: a string, or an AddedToken object with `content`. */
function tokenName(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && typeof (v as Json)["content"] === "string") return (v as Json)["content"] as string;
  return undefined;
}

function readJson(file: string): Json {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Json;
  } catch (cause) {
    throw new ColtsError("MODEL_NOT_FOUND", `cannot read ${file}: ${String(cause)}`, { cause, details: { file } });
  }
}

/** A loaded cross-encoder: scores (query, document) pairs, higher meaning more relevant. Call `close()` when done. */
export class CrossEncoder {
  private constructor(
    private readonly session: OnnxSession,
    private readonly tok: Tokenizer,
    private readonly special: { cls: number; sep: number; pad: number },
    /** Number of output labels, 1 or 2 (decides how a score is read from the logits, see the module comment). */
    readonly labels: number,
    /** Longest pair in tokens, special tokens included; longer pairs are truncated (see layoutPair). */
    readonly maxLength: number,
    private readonly tokenBudget: number,
  ) {}

  /** Loads a cross-encoder folder (see module comment). */
  static async load(dir: string, opts: CrossEncoderOptions = {}): Promise<CrossEncoder> {
    const config = readJson(path.join(dir, "config.json"));
    const tokenizerConfig = fs.existsSync(path.join(dir, "tokenizer_config.json")) ? readJson(path.join(dir, "tokenizer_config.json")) : {};
    const onnx = ["onnx/model.onnx", "model.onnx"].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
    if (!onnx) throw new ColtsError("MODEL_NOT_FOUND", `${dir} has no onnx/model.onnx or model.onnx`, { details: { dir } });
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(readJson(path.join(dir, "tokenizer.json")), tokenizerConfig);
    } catch (cause) {
      if (cause instanceof ColtsError) throw cause;
      throw new ColtsError("TOKENIZER_INVALID", `${dir}/tokenizer.json could not be loaded: ${String(cause)}`, { cause });
    }
    const idOf = (key: string, fallback: string): number => {
      const name = tokenName(tokenizerConfig[key]) ?? fallback;
      const id = tok.token_to_id(name);
      if (id === undefined) throw new ColtsError("TOKENIZER_INVALID", `${dir}: the tokenizer has no ${key} "${name}"`);
      return id;
    };
    const labels = config["id2label"] && typeof config["id2label"] === "object" ? Object.keys(config["id2label"]).length : Number(config["num_labels"] ?? 1);
    if (labels !== 1 && labels !== 2) throw new ColtsError("CONFIG_INVALID", `${dir}: a cross-encoder needs 1 or 2 labels, this one has ${labels}`);
    const positions = typeof config["max_position_embeddings"] === "number" ? config["max_position_embeddings"] : 512;
    const declared = typeof tokenizerConfig["model_max_length"] === "number" ? tokenizerConfig["model_max_length"] : 512;
    const maxLength = opts.maxLength ?? Math.min(512, positions, declared);
    if (maxLength > positions) throw new ColtsError("INPUT_INVALID", `maxLength ${maxLength} exceeds the model's ${positions} positions`);
    const session = await OnnxSession.create(onnx, opts);
    const outputs = session.outputs.map((o) => o.name);
    if (!outputs.includes("logits")) {
      await session.release();
      throw new ColtsError("ONNX_INVALID", `${onnx}: a cross-encoder graph must output "logits" (has ${outputs.join(", ")})`);
    }
    const special = { cls: idOf("cls_token", "[CLS]"), sep: idOf("sep_token", "[SEP]"), pad: tok.token_to_id(tokenName(tokenizerConfig["pad_token"]) ?? "[PAD]") ?? 0 };
    return new CrossEncoder(session, tok, special, labels, maxLength, opts.tokenBudget ?? 16384);
  }

  /** The token layout of a pair (see layoutPair); normalisation (lower-casing...) is the tokenizer's. */
  tokenize(pair: ScorePair): PairTokens {
    const enc = (t: string): number[] => this.tok.encode(t, { add_special_tokens: false }).ids;
    return layoutPair(enc(pair.query), enc(pair.document), this.special.cls, this.special.sep, this.maxLength);
  }

  /** One score per pair, in the order given (batched by token budget internally). */
  async score(pairs: readonly ScorePair[]): Promise<number[]> {
    const laid = pairs.map((p) => this.tokenize(p));
    const out = new Array<number>(pairs.length).fill(NaN);
    for (const batch of planBatches(laid.map((p) => p.ids.length), this.tokenBudget)) {
      const scores = await this.run(batch.map((i) => laid[i] as PairTokens));
      batch.forEach((i, j) => (out[i] = scores[j] ?? NaN));
    }
    return out;
  }

  /** Runs one padded batch; returns a score per row. */
  async run(rows: readonly PairTokens[]): Promise<number[]> {
    // Every token of a pair is attended: padBatch's mask is 1 up to each row's length.
    const feeds = padBatch(rows, this.special.pad);
    const names = new Set(this.session.inputs.map((i) => i.name));
    const used = Object.fromEntries(Object.entries(feeds).filter(([k]) => names.has(k)));
    const { logits } = await this.session.run(used, ["logits"]);
    const data = logits?.data ?? new Float32Array(0);
    return rows.map((_, b) => (this.labels === 1 ? (data[b] ?? NaN) : (data[b * 2 + 1] ?? NaN) - (data[b * 2] ?? NaN)));
  }

  /** Releases the ONNX session; the encoder cannot score afterwards. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
