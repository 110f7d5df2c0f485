/**
 * One training batch's loss and weight gradients on onnxruntime, two ways:
 *
 * One run (step-graph.ts), when the micro-batch's activations fit `activationBudgetBytes` and the
 * loss has an in-graph gradient form (every loss but KL with min-max student scaling): queries and
 * documents are encoded, scored, and back-propagated in a single onnxruntime run; nothing is encoded
 * twice. A larger micro-batch whose loss has no in-batch negatives (so each query's term stands
 * alone) runs as several such runs over parts of whole queries, their gradients added.
 *
 * GradCache otherwise, i.e. for in-batch negatives over the budget and for KL on min-max scaled
 * scores (Gao et al. 2021, PyLate's CachedContrastive):
 *   1. encode every query and document with the forward encoder graph, a chunk of rows at a time;
 *   2. per output dim, score the batch (scores graph), compute the loss and its gradient with
 *      respect to the scores in float64 (score-losses.ts), and turn that into gradients with respect
 *      to every vector (the scores graph's backward pass);
 *   3. run the encoder graph again with its backward pass, chunk by chunk, seeded with those vector
 *      gradients, and add up each weight's gradient.
 * The encoder's memory is bounded by one chunk's activations, whatever the batch, at the price of a
 * second forward pass. The loss may couple every query with every document (in-batch negatives)
 * either way. The scores graph is not chunked: with in-batch negatives it holds [B·Lq, B·g·Ld]
 * similarities (about 190 MB each at 32 x (1+7) of 180 tokens), growing with B²·g.
 *
 * Both ways feed sequences packed where they can (`packSequences`): the real tokens only through
 * every per-token layer, so a batch padded to its longest document pays for its padding only in
 * attention.
 */
import { ColtsError } from "../../errors.js";
import type { BertWeights } from "../../model/bert-weights.js";
import type { ColbertCheckpoint } from "../../model/checkpoint.js";
import type { DenseLayer } from "../../model/layout.js";
import { dedupIds } from "../../runtime/autodiff/diff-graph.js";
import { encodeModel } from "../../runtime/onnx/proto.js";
import { OnnxSession, type InputTensor, type RuntimeOptions } from "../../runtime/session.js";
import { teacherTargets, type ObjectiveOptions, type TokenBatch, type TrainBatch } from "../batch.js";
import { buildEncoderGraph, type EncoderGraph, type EncoderGraphSpec, type HeadShape } from "./encoder-graph.js";
import { dropoutFeeds, streamSeed, type DropoutRates } from "./dropout.js";
import { activationBytes, batchPart, fusedLossForm, lossFeeds, prefixed, scoreLoss, type Target } from "./fused-step.js";
import { buildScoresGraph } from "./scores-graph.js";
import { buildStepGraph, type StepGraph } from "./step-graph.js";

/** Options of the trainer. */
export interface OrtTrainerOptions {
  /** Output dims trained (Matryoshka); each must be <= the model's dim or have its own head. Default: the model's dim. */
  dims?: number[];
  /**
   * Sequences per encoder run: bounds activation memory. Default 8: at the 384 x 12 shape, 8, 16 and
   * 32 measured 369, 368 and 324 tokens/s at 2.7, 4.2 and 4.4 GiB RSS (bench/RESULTS.md). Range >= 1.
   */
  chunkRows?: number;
  /** onnxruntime settings of every session (threads). */
  runtime?: RuntimeOptions;
  /** Dropout during training (BERT's hidden and attention-weights dropout). Default: none. `embed` never drops. */
  dropout?: DropoutRates;
  /**
   * Largest estimated activation memory, in bytes, of a micro-batch run in one onnxruntime run
   * (forward, loss gradient and backward together, step-graph.ts); a larger micro-batch runs in parts
   * of whole queries that fit, or, with in-batch negatives (which couple every query with every
   * document), uses GradCache (memory bounded by one chunk, at the price of encoding twice). The
   * estimate is ~0.5 MB per token at the 384 x 12 shape and 180-token documents (fused-step.ts
   * `activationBytes`, counted padded, so packed sequences stay well inside it); the process's RSS
   * grows ~0.6 MB per token (8 x (1+7): 8.4 GB max RSS, bench/RESULTS.md). Default 4 GiB, which holds
   * 8 x (1+3) of 180 tokens there (~4-5 GiB RSS); 0 always uses GradCache.
   */
  activationBudgetBytes?: number;
  /**
   * Whether sequences are fed packed (encoder-graph.ts): every per-token layer (projections,
   * feed-forward, LayerNorms, head) runs on the real tokens only and skips the padding, which is a
   * third of the document tokens of a typical batch; attention still sees [B, S]. Applies to the
   * documents of a one-run step (step-graph.ts `packDocuments`) and to every GradCache and `embed`
   * chunk. Same loss and gradients to float32 rounding (tested); false runs the padded graphs (for
   * comparison). Default true. Rows that are not real tokens first and padding after, or that keep a
   * token they do not attend (PyLate queries' [MASK] expansion), run padded.
   */
  packSequences?: boolean;
}

/** Per-call options of `lossAndGradients`. */
export interface StepOptions {
  /** Seed of this call's dropout masks (a pure function of it: same seed, same masks). Default 0. */
  dropoutSeed?: number;
}

/** Encoded sequences: unit vectors [rows, length, d] and the keep mask [rows, length]. */
export interface EncodedRows {
  /** [rows, length, d] row-major. */
  vectors: Float32Array;
  /** [rows, length]: 1 where the vector counts. */
  keep: Float32Array;
  /** Sequences. */
  rows: number;
  /** Tokens per sequence (padded). */
  length: number;
}

/** A model's trained arrays, as a checkpoint holds them. */
export type WeightsSnapshot = Pick<ColbertCheckpoint, "weights" | "dense" | "matryoshkaHeads">;

/** A batch's loss and the gradient of every weight (by checkpoint name). */
export interface LossAndGradients {
  /** The loss, summed over Matryoshka dims (and teachers, weighted) as the objective defines it. */
  loss: number;
  /** dLoss / dWeight, shaped like each weight. */
  grads: Map<string, Float32Array>;
  /** The batch's MaxSim scores per trained dim ([B, g], or [B, B*g] with in-batch negatives). */
  scores: Map<number, Float32Array>;
  /**
   * Where the time went, in ms. GradCache: forward embedding, scores and losses, encoder backward
   * passes. One run: preparing the inputs, the loss values, and the run itself (as backwardMs).
   */
  timings: { embedMs: number; scoresMs: number; backwardMs: number };
  /** Whether the step ran as one onnxruntime run per part (else GradCache). */
  oneRun: boolean;
  /** One run: how many parts (whole queries with their documents) the batch ran in; 1 when it fit whole, and for GradCache. */
  parts: number;
}

/**
 * How a batch is scored: every query against every document (in-batch negatives) or against its own
 * group, and the documents' removed-token bias laid out for that mode (scores-graph.ts): 0 for kept
 * tokens, -1e4 for removed ones.
 */
function scoringLayout(batch: TrainBatch, objective: ObjectiveOptions): { inBatch: boolean; mode: "all" | "group"; width: number; dBias: InputTensor } {
  const B = batch.queries.rows;
  const g = batch.group;
  const Ld = batch.docs.length;
  const inBatch = objective.loss === "contrastive" && objective.inBatchNegatives === true;
  const data = Float32Array.from(batch.docs.keep, (k) => (k > 0 ? 0 : -1e4));
  return { inBatch, mode: inBatch ? "all" : "group", width: inBatch ? B * g : g, dBias: { data, dims: inBatch ? [1, 1, B * g, Ld] : [B, 1, g, Ld] } };
}

/**
 * Per row r0..r1-1 of `b`, how many attended tokens lead it, or null when the rows cannot be packed
 * as real tokens first: a row attends a token after its padding, or keeps one it does not attend
 * (PyLate queries whose [MASK] expansion is scored but not attended).
 */
export function packableLengths(b: TokenBatch, r0: number, r1: number): number[] | null {
  const S = b.length;
  const lengths: number[] = [];
  for (let r = r0; r < r1; r++) {
    let n = 0;
    while (n < S && (b.attention[r * S + n] as number) > 0) n++;
    for (let j = n; j < S; j++) if ((b.attention[r * S + j] as number) > 0 || (b.keep[r * S + j] as number) > 0) return null;
    lengths.push(n);
  }
  return lengths;
}

/** Additive attention mask of a chunk: [rows, 1, 1, S], 0 for attended tokens, -1e9 for padding. */
function maskBias(b: TokenBatch, r0: number, r1: number): InputTensor {
  const S = b.length;
  const data = new Float32Array((r1 - r0) * S);
  for (let i = 0; i < data.length; i++) data[i] = (b.attention[r0 * S + i] as number) > 0 ? 0 : -1e9;
  return { data, dims: [r1 - r0, 1, 1, S] };
}

function headShape(l: DenseLayer): HeadShape {
  return { inFeatures: l.inFeatures, outFeatures: l.outFeatures, activation: l.activation, bias: l.bias !== null };
}

/** The sessions and weights of one model; see the module comment. */
export class OrtTrainer {
  private readonly scoreSessions = new Map<string, OnnxSession>();
  /** Packed encoder graphs by "<dropout>/<backward>", started on first use. */
  private readonly packedSessions = new Map<string, Promise<OnnxSession>>();
  private readonly stepSessions = new Map<string, { graph: StepGraph; session: OnnxSession }>();

  private constructor(
    /** The weights being trained, by checkpoint name (updated in place by the optimizer). */
    readonly weights: Map<string, Float32Array>,
    /** Output dims trained. */
    readonly dims: number[],
    private readonly graph: EncoderGraph,
    /** Forward without dropout (`embed`, evaluation). */
    private readonly forward: OnnxSession,
    /** Forward with dropout inputs (the training embed pass); `forward` itself without dropout. */
    private readonly trainForward: OnnxSession,
    private readonly train: OnnxSession,
    private readonly chunkRows: number,
    private readonly runtime: RuntimeOptions,
    private readonly dropout: DropoutRates | null,
    private readonly activationBudget: number,
    /** What the encoder graphs were built from (the one-run step graphs are built from it on first use). */
    private readonly spec: Omit<EncoderGraphSpec, "backward" | "dtype">,
    private readonly packSequences: boolean,
  ) {}

  /** Builds the encoder graphs for `ckpt`'s shape and copies its weights. */
  static async create(ckpt: Pick<ColbertCheckpoint, "config" | "weights" | "dense" | "matryoshkaHeads">, opts: OrtTrainerOptions = {}): Promise<OrtTrainer> {
    const head = ckpt.dense.map(headShape);
    const ownHeads = new Map([...ckpt.matryoshkaHeads].map(([d, l]) => [d, headShape(l)] as const));
    const mainDim = head[head.length - 1]?.outFeatures ?? ckpt.config.hiddenSize;
    const dims = opts.dims && opts.dims.length > 0 ? [...new Set(opts.dims)] : [mainDim];
    const chunkRows = opts.chunkRows ?? 8;
    if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new ColtsError("INPUT_INVALID", `chunkRows must be an integer >= 1, got ${chunkRows}`);
    const dropout = opts.dropout && (opts.dropout.hidden > 0 || opts.dropout.attention > 0) ? opts.dropout : null;
    for (const p of [opts.dropout?.hidden ?? 0, opts.dropout?.attention ?? 0]) {
      if (!(p >= 0 && p < 1)) throw new ColtsError("INPUT_INVALID", `dropout probabilities must be in [0, 1), got ${p}`);
    }
    const spec = { config: ckpt.config, head, ownHeads, dims };
    const fwd = buildEncoderGraph({ ...spec, dropout: null, backward: false });
    const train = buildEncoderGraph({ ...spec, dropout, backward: true });
    const weights = new Map<string, Float32Array>();
    const source = (name: string): Float32Array | undefined => {
      const m = /^(dense|mhead)\.(\d+)\.(weight|bias)$/.exec(name);
      if (!m) return ckpt.weights.get(name)?.data;
      const layer = m[1] === "dense" ? ckpt.dense[Number(m[2])] : ckpt.matryoshkaHeads.get(Number(m[2]));
      return (m[3] === "weight" ? layer?.weight : layer?.bias) ?? undefined;
    };
    for (const w of fwd.weights) {
      const data = source(w.name);
      const size = w.shape.reduce((a, b) => a * b, 1);
      if (!data || data.length !== size) throw new ColtsError("SAFETENSORS_INVALID", `weight ${w.name} is missing or not [${w.shape.join(", ")}]`);
      weights.set(w.name, Float32Array.from(data));
    }
    const budget = opts.activationBudgetBytes ?? 4 * 2 ** 30;
    if (!(budget >= 0)) throw new ColtsError("INPUT_INVALID", `activationBudgetBytes must be >= 0, got ${budget}`);
    const runtime = opts.runtime ?? {};
    // Every session is released if another fails to start.
    const models = [fwd.model, train.model, ...(dropout ? [buildEncoderGraph({ ...spec, dropout, backward: false }).model] : [])];
    const started = await Promise.allSettled(models.map((m) => OnnxSession.create(encodeModel(m), runtime)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await Promise.all(started.filter((r): r is PromiseFulfilledResult<OnnxSession> => r.status === "fulfilled").map((r) => r.value.release()));
      throw failed.reason;
    }
    const [f, t, tf] = started.map((r) => (r as PromiseFulfilledResult<OnnxSession>).value) as [OnnxSession, OnnxSession, OnnxSession | undefined];
    return new OrtTrainer(weights, dims, train, f, tf ?? f, t, chunkRows, runtime, dropout, budget, { ...spec, dropout }, opts.packSequences ?? true);
  }

  /** Every trained weight's name and shape, in the graph's order. */
  weightShapes(): [string, number[]][] {
    return this.graph.weights.map((w) => [w.name, w.shape]);
  }

  private weightFeeds(): Record<string, InputTensor> {
    const feeds: Record<string, InputTensor> = {};
    for (const w of this.graph.weights) feeds[w.name] = { data: this.weights.get(w.name) as Float32Array, dims: w.shape };
    return feeds;
  }

  /**
   * Feeds of rows [r0, r1) of a tokenized batch: ids, positions, token type 0, mask; with
   * `withDedup` (backward runs), each id input's distinct values and inverse index too. Positions are
   * BERT's 0..S-1, or for XLM-R (config.roberta) those of bert-graph.ts and HF
   * `create_position_ids_from_input_ids`: the k-th non-padding id of a row gets paddingIdx + k, a
   * padding id gets paddingIdx (whatever its attention, as there).
   */
  private chunkFeeds(b: TokenBatch, r0: number, r1: number, withDedup = false): Record<string, InputTensor> {
    const S = b.length;
    const n = (r1 - r0) * S;
    const ids = new BigInt64Array(n);
    const positions = new BigInt64Array(n);
    const pad = this.graph.config.roberta?.paddingIdx;
    let seen = 0; // non-padding ids so far in the row (RoBERTa positions)
    for (let i = 0; i < n; i++) {
      const id = b.ids[r0 * S + i] as number;
      ids[i] = BigInt(id);
      if (i % S === 0) seen = 0;
      positions[i] = BigInt(pad === undefined ? i % S : id === pad ? pad : pad + ++seen);
    }
    const last = pad === undefined ? S - 1 : pad + S;
    if (last >= this.graph.config.maxPositions) {
      throw new ColtsError("INPUT_INVALID", `${S} tokens need position ${last}, beyond the model's ${this.graph.config.maxPositions} positions`);
    }
    const dims = [r1 - r0, S];
    const types = new BigInt64Array(n);
    const feeds: Record<string, InputTensor> = { input_ids: { data: ids, dims }, position_ids: { data: positions, dims }, token_type_ids: { data: types, dims }, mask_bias: maskBias(b, r0, r1) };
    if (withDedup) {
      for (const [name, values] of [["input_ids", ids], ["position_ids", positions], ["token_type_ids", types]] as const) {
        const { unique, inverse } = dedupIds(values);
        feeds[`${name}_unique`] = { data: unique, dims: [unique.length] };
        feeds[`${name}_inverse`] = { data: inverse, dims };
      }
    }
    return feeds;
  }

  /**
   * Feeds of rows [r0, r1) of `b` packed (encoder-graph.ts): the real tokens' ids, positions and
   * types [T] (with their distinct values when `withDedup`), the padded mask, and the index maps
   * between the layouts. `lengths` are `packableLengths(b, r0, r1)`.
   */
  private packedFeeds(b: TokenBatch, r0: number, r1: number, lengths: readonly number[], withDedup: boolean): Record<string, InputTensor> {
    const S = b.length;
    const rows = r1 - r0;
    const padded = this.chunkFeeds(b, r0, r1);
    const T = lengths.reduce((a, n) => a + n, 0);
    const padIndex = new BigInt64Array(rows * S).fill(BigInt(T));
    const unpadIndex = new BigInt64Array(T);
    let t = 0;
    lengths.forEach((n, r) => {
      for (let j = 0; j < n; j++, t++) {
        padIndex[r * S + j] = BigInt(t);
        unpadIndex[t] = BigInt(r * S + j);
      }
    });
    const feeds: Record<string, InputTensor> = { mask_bias: padded["mask_bias"] as InputTensor, pad_index: { data: padIndex, dims: [rows * S] }, unpad_index: { data: unpadIndex, dims: [T] } };
    for (const name of ["input_ids", "position_ids", "token_type_ids"]) {
      const all = padded[name]?.data as BigInt64Array;
      const values = BigInt64Array.from(unpadIndex, (slot) => all[Number(slot)] as bigint);
      feeds[name] = { data: values, dims: [T] };
      if (!withDedup) continue;
      const { unique, inverse } = dedupIds(values);
      feeds[`${name}_unique`] = { data: unique, dims: [unique.length] };
      feeds[`${name}_inverse`] = { data: inverse, dims: [T] };
    }
    return feeds;
  }

  /** The packed encoder graph's session with or without dropout inputs and backward pass (built on first use). */
  private packedSession(dropout: boolean, backward: boolean): Promise<OnnxSession> {
    const key = `${dropout}/${backward}`;
    let s = this.packedSessions.get(key);
    if (!s) {
      s = OnnxSession.create(encodeModel(buildEncoderGraph({ ...this.spec, dropout: dropout ? this.dropout : null, backward, packed: true }).model), this.runtime);
      this.packedSessions.set(key, s);
    }
    return s;
  }

  /**
   * The session and feeds of one encoder run over rows [r0, r1): packed when the trainer packs and
   * the rows allow it, else padded (dropout inputs included when `drop` is set).
   */
  private async encoderRun(b: TokenBatch, r0: number, r1: number, backward: boolean, drop: { seed: number; side: number } | null): Promise<{ session: OnnxSession; feeds: Record<string, InputTensor> }> {
    const lengths = this.packSequences ? packableLengths(b, r0, r1) : null;
    const dropping = drop !== null && this.dropout !== null;
    const dropFeeds = this.dropoutFor(drop?.seed ?? null, drop?.side ?? 0, b, r0, r1, lengths ?? undefined);
    if (lengths) return { session: await this.packedSession(dropping, backward), feeds: { ...this.packedFeeds(b, r0, r1, lengths, backward), ...dropFeeds } };
    const session = backward ? this.train : dropping ? this.trainForward : this.forward;
    return { session, feeds: { ...this.chunkFeeds(b, r0, r1, backward), ...dropFeeds } };
  }

  /** Unit vectors of every row of `b` with the current weights, per trained dim: [rows, S, d]; no dropout. */
  async embed(b: TokenBatch): Promise<Map<number, Float32Array>> {
    return this.embedWith(b, null);
  }

  /**
   * Dropout inputs of rows [r0, r1) of stream `side` (0 queries, 1 documents) for a step seeded `seed`;
   * none without dropout. With `lengths`, packed (dropout.ts).
   */
  private dropoutFor(seed: number | null, side: number, b: TokenBatch, r0: number, r1: number, lengths?: readonly number[], rowOffset = 0): Record<string, InputTensor> {
    if (seed === null || !this.dropout) return {};
    const c = this.graph.config;
    return dropoutFeeds(streamSeed(seed, side), this.dropout, rowOffset + r0, r1 - r0, b.length, c.hiddenSize, c.numHeads, c.numLayers, lengths);
  }

  private async embedWith(b: TokenBatch, drop: { seed: number; side: number } | null): Promise<Map<number, Float32Array>> {
    const out = new Map(this.dims.map((d) => [d, new Float32Array(b.rows * b.length * d)] as const));
    const weights = this.weightFeeds();
    for (let r0 = 0; r0 < b.rows; r0 += this.chunkRows) {
      const r1 = Math.min(b.rows, r0 + this.chunkRows);
      const { session, feeds } = await this.encoderRun(b, r0, r1, false, drop);
      const res = await session.run({ ...weights, ...feeds }, this.dims.map((d) => `emb_${d}`));
      for (const d of this.dims) out.get(d)?.set(res[`emb_${d}`]?.data as Float32Array, r0 * b.length * d);
    }
    return out;
  }

  /** Adds each weight's gradient for rows of `b`, seeded with the gradient of every output vector. */
  private async backward(b: TokenBatch, seeds: Map<number, Float32Array>, grads: Map<string, Float32Array>, drop: { seed: number; side: number }): Promise<void> {
    const weights = this.weightFeeds();
    const names = [...this.graph.gradOutputs.values()];
    for (let r0 = 0; r0 < b.rows; r0 += this.chunkRows) {
      const r1 = Math.min(b.rows, r0 + this.chunkRows);
      const run = await this.encoderRun(b, r0, r1, true, drop);
      const feeds: Record<string, InputTensor> = { ...weights, ...run.feeds };
      for (const d of this.dims) {
        const rowSize = b.length * d;
        feeds[`grad_emb_${d}`] = { data: (seeds.get(d) as Float32Array).subarray(r0 * rowSize, r1 * rowSize), dims: [r1 - r0, b.length, d] };
      }
      const res = await run.session.run(feeds, names);
      for (const [weight, output] of this.graph.gradOutputs) {
        if (this.graph.unused.has(weight)) continue; // no gradient (not None-but-zero): AdamW leaves it alone, as torch does
        const g = res[output]?.data as Float32Array;
        const acc = grads.get(weight);
        if (!acc) grads.set(weight, Float32Array.from(g));
        else for (let i = 0; i < g.length; i++) acc[i] = (acc[i] as number) + (g[i] as number);
      }
    }
  }

  private async scoreSession(d: number, mode: "all" | "group", group: number, backward: boolean): Promise<OnnxSession> {
    const key = `${d}/${mode}/${group}/${backward ? 1 : 0}`;
    let s = this.scoreSessions.get(key);
    if (!s) {
      s = await OnnxSession.create(encodeModel(buildScoresGraph({ dim: d, mode, group, backward })), this.runtime);
      this.scoreSessions.set(key, s);
    }
    return s;
  }

  /** The loss of `batch` and the gradient of every weight (see the module comment). */
  async lossAndGradients(batch: TrainBatch, objective: ObjectiveOptions, step: StepOptions = {}): Promise<LossAndGradients> {
    const B = batch.queries.rows;
    const g = batch.group;
    if (batch.docs.rows !== B * g) throw new ColtsError("INPUT_INVALID", `${batch.docs.rows} documents for ${B} queries of ${g}`);
    const targets = objective.loss === "contrastive" ? [] : teacherTargets(batch, objective);
    const form = fusedLossForm(objective);
    const c = this.spec.config;
    const bytes = activationBytes(c, B, batch.queries.length) + activationBytes(c, B * g, batch.docs.length);
    const seed = step.dropoutSeed ?? 0;
    if (form && bytes <= this.activationBudget) return this.oneRun(batch, objective, targets, form, seed);
    // Without in-batch negatives each query's loss term stands alone: the batch runs as parts of
    // whole queries that fit the budget, their gradients added (each scaled by the whole batch's B).
    const perPart = Math.floor((this.activationBudget / bytes) * B);
    const inBatch = objective.loss === "contrastive" && objective.inBatchNegatives === true;
    if (form && !inBatch && perPart >= 1) return this.inParts(batch, objective, targets, form, seed, perPart);
    return this.gradCache(batch, objective, targets, seed);
  }

  /** `batch` as one-run parts of `perPart` queries (see `lossAndGradients`). */
  private async inParts(batch: TrainBatch, objective: ObjectiveOptions, targets: Target[], form: "softmax" | "margin", seed: number, perPart: number): Promise<LossAndGradients> {
    const B = batch.queries.rows;
    const total: LossAndGradients = { loss: 0, grads: new Map(), scores: new Map(), timings: { embedMs: 0, scoresMs: 0, backwardMs: 0 }, oneRun: true, parts: 0 };
    const scoreParts = new Map<number, Float32Array[]>();
    for (let q0 = 0; q0 < B; q0 += perPart) {
      const q1 = Math.min(B, q0 + perPart);
      const part = batchPart(batch, targets, q0, q1);
      const r = await this.oneRun(part.batch, objective, part.targets, form, seed, { queryRow: q0, totalQueries: B });
      total.loss += (r.loss * (q1 - q0)) / B;
      for (const [name, g] of r.grads) {
        const acc = total.grads.get(name);
        if (!acc) total.grads.set(name, g);
        else for (let i = 0; i < g.length; i++) acc[i] = (acc[i] as number) + (g[i] as number);
      }
      for (const [d, sc] of r.scores) scoreParts.set(d, [...(scoreParts.get(d) ?? []), sc]);
      total.timings.embedMs += r.timings.embedMs;
      total.timings.scoresMs += r.timings.scoresMs;
      total.timings.backwardMs += r.timings.backwardMs;
      total.parts++;
    }
    for (const [d, list] of scoreParts) {
      const all = new Float32Array(list.reduce((n, a) => n + a.length, 0));
      list.reduce((at, a) => (all.set(a, at), at + a.length), 0);
      total.scores.set(d, all);
    }
    return total;
  }

  /** The step graph's session for a batch layout and loss form (built on first use). */
  private async stepSession(mode: "all" | "group", group: number, form: "softmax" | "margin", packDocuments: boolean): Promise<{ graph: StepGraph; session: OnnxSession }> {
    const key = `${mode}/${group}/${form}/${packDocuments ? "packed" : "padded"}`;
    let s = this.stepSessions.get(key);
    if (!s) {
      const graph = buildStepGraph({ ...this.spec, mode, group, loss: form, packDocuments });
      s = { graph, session: await OnnxSession.create(encodeModel(graph.model), this.runtime) };
      this.stepSessions.set(key, s);
    }
    return s;
  }

  /**
   * The whole micro-batch in one onnxruntime run (step-graph.ts); or one part of it, whose first query
   * is the batch's `part.queryRow` (for its dropout streams) and whose loss averages over the batch's
   * `part.totalQueries`.
   */
  private async oneRun(batch: TrainBatch, objective: ObjectiveOptions, targets: Target[], form: "softmax" | "margin", seed: number, part = { queryRow: 0, totalQueries: batch.queries.rows }): Promise<LossAndGradients> {
    const B = batch.queries.rows;
    const g = batch.group;
    const { mode, dBias } = scoringLayout(batch, objective);
    const lengths = this.packSequences ? packableLengths(batch.docs, 0, B * g) : null;
    const { graph, session } = await this.stepSession(mode, g, form, lengths !== null);
    const t0 = performance.now();
    const docRow = part.queryRow * g;
    const docFeeds = lengths
      ? { ...this.packedFeeds(batch.docs, 0, B * g, lengths, true), ...this.dropoutFor(seed, 1, batch.docs, 0, B * g, lengths, docRow) }
      : { ...this.chunkFeeds(batch.docs, 0, B * g, true), ...this.dropoutFor(seed, 1, batch.docs, 0, B * g, undefined, docRow) };
    const feeds: Record<string, InputTensor> = {
      ...this.weightFeeds(),
      ...prefixed("q_", { ...this.chunkFeeds(batch.queries, 0, B, true), ...this.dropoutFor(seed, 0, batch.queries, 0, B, undefined, part.queryRow) }),
      ...prefixed("d_", docFeeds),
      q_keep: { data: batch.queries.keep, dims: [B, batch.queries.length] },
      d_bias: dBias,
      ...lossFeeds(batch, objective, targets, form, part.totalQueries),
    };
    const t1 = performance.now();
    const res = await session.run(feeds, [...graph.scores.values(), ...graph.gradOutputs.values()]);
    const t2 = performance.now();
    const grads = new Map<string, Float32Array>();
    for (const [weight, output] of graph.gradOutputs) {
      if (!graph.unused.has(weight)) grads.set(weight, res[output]?.data as Float32Array);
    }
    const scores = new Map([...graph.scores].map(([d, name]) => [d, res[name]?.data as Float32Array] as const));
    let loss = 0;
    for (const s of scores.values()) loss += scoreLoss(s, batch, objective, targets).loss;
    return { loss, grads, scores, timings: { embedMs: t1 - t0, scoresMs: performance.now() - t2, backwardMs: t2 - t1 }, oneRun: true, parts: 1 };
  }

  /** GradCache (see the module comment). */
  private async gradCache(batch: TrainBatch, objective: ObjectiveOptions, targets: Target[], seed: number): Promise<LossAndGradients> {
    const B = batch.queries.rows;
    const g = batch.group;
    const { mode, width, dBias } = scoringLayout(batch, objective);
    const t0 = performance.now();
    const [qv, dv] = [await this.embedWith(batch.queries, { seed, side: 0 }), await this.embedWith(batch.docs, { seed, side: 1 })];
    const t1 = performance.now();
    const Lq = batch.queries.length;
    const Ld = batch.docs.length;
    const qSeeds = new Map<number, Float32Array>();
    const dSeeds = new Map<number, Float32Array>();
    const allScores = new Map<number, Float32Array>();
    let loss = 0;
    for (const d of this.dims) {
      const feeds: Record<string, InputTensor> = {
        q: { data: qv.get(d) as Float32Array, dims: [B, Lq, d] },
        docs: { data: dv.get(d) as Float32Array, dims: [B * g, Ld, d] },
        q_keep: { data: batch.queries.keep, dims: [B, Lq] },
        d_bias: dBias,
      };
      const scores = (await (await this.scoreSession(d, mode, g, false)).run(feeds, ["scores"]))["scores"]?.data as Float32Array;
      allScores.set(d, scores);
      const l = scoreLoss(scores, batch, objective, targets);
      loss += l.loss;
      const back = await (await this.scoreSession(d, mode, g, true)).run({ ...feeds, grad_scores: { data: Float32Array.from(l.grad), dims: [B, width] } }, ["grad_q", "grad_docs"]);
      qSeeds.set(d, back["grad_q"]?.data as Float32Array);
      dSeeds.set(d, back["grad_docs"]?.data as Float32Array);
    }
    const t2 = performance.now();
    const grads = new Map<string, Float32Array>();
    await this.backward(batch.queries, qSeeds, grads, { seed, side: 0 });
    await this.backward(batch.docs, dSeeds, grads, { seed, side: 1 });
    return { loss, grads, scores: allScores, timings: { embedMs: t1 - t0, scoresMs: t2 - t1, backwardMs: performance.now() - t2 }, oneRun: false, parts: 1 };
  }

  /**
   * MaxSim of every query against every document ([nq, nd]) for vectors of width d: queries
   * [nq, Lq, d] with their keep mask, documents [nd, Ld, d] with theirs (evaluation). Queries go in
   * blocks of `queryBlock` so the [queries x tokens, documents x tokens] product stays small.
   */
  async scoreAll(d: number, q: EncodedRows, docs: EncodedRows, queryBlock = 64): Promise<Float32Array> {
    const session = await this.scoreSession(d, "all", 1, false);
    const fixed: Record<string, InputTensor> = {
      docs: { data: docs.vectors, dims: [docs.rows, docs.length, d] },
      d_bias: { data: Float32Array.from(docs.keep, (k) => (k > 0 ? 0 : -1e4)), dims: [1, 1, docs.rows, docs.length] },
    };
    const out = new Float32Array(q.rows * docs.rows);
    for (let q0 = 0; q0 < q.rows; q0 += queryBlock) {
      const rows = Math.min(queryBlock, q.rows - q0);
      const span = q.length * d;
      const res = await session.run(
        {
          ...fixed,
          q: { data: q.vectors.subarray(q0 * span, (q0 + rows) * span), dims: [rows, q.length, d] },
          q_keep: { data: q.keep.subarray(q0 * q.length, (q0 + rows) * q.length), dims: [rows, q.length] },
        },
        ["scores"],
      );
      out.set(res["scores"]?.data as Float32Array, q0 * docs.rows);
    }
    return out;
  }

  /** The current weights as a checkpoint's arrays (copies): backbone, head layers, separate heads. */
  snapshot(base: Pick<ColbertCheckpoint, "weights" | "dense" | "matryoshkaHeads">): WeightsSnapshot {
    const copy = (name: string): Float32Array => Float32Array.from(this.weights.get(name) as Float32Array);
    const weights: BertWeights = new Map([...base.weights].map(([name, t]) => [name, { shape: [...t.shape], data: this.weights.has(name) ? copy(name) : Float32Array.from(t.data) }] as const));
    const layer = (l: DenseLayer, name: string): DenseLayer => ({ ...l, weight: copy(`${name}.weight`), bias: l.bias ? copy(`${name}.bias`) : null });
    return {
      weights,
      dense: base.dense.map((l, i) => layer(l, `dense.${i}`)),
      matryoshkaHeads: new Map([...base.matryoshkaHeads].map(([d, l]) => [d, layer(l, `mhead.${d}`)] as const)),
    };
  }

  /** Frees every onnxruntime session. */
  async release(): Promise<void> {
    const packed = await Promise.allSettled(this.packedSessions.values());
    const sessions = [...new Set([this.forward, this.trainForward, this.train, ...this.scoreSessions.values(), ...[...this.stepSessions.values()].map((s) => s.session)])];
    for (const p of packed) if (p.status === "fulfilled") sessions.push(p.value);
    this.packedSessions.clear();
    this.stepSessions.clear();
    this.scoreSessions.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }
}
