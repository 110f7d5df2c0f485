/**
 * `colts/train`: fine-tuning (contrastive, KL, Margin-MSE, Matryoshka), hard-negative mining, teacher
 * scores and checkpoint merging. Re-exports only.
 */
export { parseTrainingExample, serializeTrainingExample, negativeCount, type TrainingExample } from "./format.js";
export { trainColbert, trainColbertInWorker, exportTrainedModel } from "./api.js";
export type { TrainOptions, TrainResult, StepRecord } from "./loop.js";
export type { ObjectiveOptions, LossKind, TrainBatch, TokenBatch } from "./batch.js";
export { OrtTrainer, type OrtTrainerOptions, type LossAndGradients, type WeightsSnapshot, type EncodedRows } from "./ort/trainer.js";
export { AdamW, linearSchedule, type AdamWOptions } from "./optim.js";
export { contrastiveLoss, klLoss, marginMseLoss, type LossWithGradient, type ContrastiveLossOptions } from "./score-losses.js";
export type { ResolvedExample } from "./data.js";
export { mineTriples, sampleNegatives, parseWindow, lineRng, type MineOptions, type MineInput, type MineStats, type RankWindow, type Retrieve, type ShortPolicy } from "./mine.js";
export { scoreFromRun, scoreWithModel, runLookup, MISSING_POLICIES, type MissingPolicy, type PairScorer, type RunLookup } from "./teacher.js";
export { mergeCheckpoints, mergeModelFolders, checkMergeable, MERGE_METHODS, type MergeMethod, type MergeOptions } from "./merge.js";
export { linearMerge, slerp, tiesMerge, trimToDensity, normalizeWeights } from "./merge-math.js";
