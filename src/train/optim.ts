/**
 * AdamW (Loshchilov & Hutter 2019: weight decay decoupled from the gradient step) over Float32Array
 * weights, with the linear warm-up + linear decay schedule of HF transformers'
 * get_linear_schedule_with_warmup and global gradient-norm clipping (default 1.0, as the
 * Sentence-Transformers / HF trainers). Arithmetic in float64, stored in float32, in a fixed order:
 * the same inputs give the same bits, which is what makes resume exact.
 */

/** AdamW's settings. */
export interface AdamWOptions {
  /** Peak learning rate. */
  lr: number;
  /** First-moment decay. Default 0.9. */
  beta1?: number;
  /** Second-moment decay. Default 0.999. */
  beta2?: number;
  /** Added to the second moment's square root. Default 1e-8 (PyTorch's). */
  eps?: number;
  /** Decoupled weight decay, applied to matrices only (not biases, not LayerNorm), as HF does. Default 0.01. */
  weightDecay?: number;
  /** Gradients are scaled so their global L2 norm is at most this; 0 disables. Default 1. */
  clipNorm?: number;
}

/**
 * Multiplier of the peak learning rate at optimizer step `step` (0-based) of `total`: rises linearly
 * from 0 over `warmup` steps, then falls linearly to 0 at `total` (HF get_linear_schedule_with_warmup).
 */
export function linearSchedule(step: number, total: number, warmup: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}

/** HF's no-decay rule: biases and LayerNorm weights are not decayed. */
export function decays(name: string): boolean {
  return !name.endsWith(".bias") && !name.includes("LayerNorm");
}

/** AdamW's settings with their defaults filled in. */
export function adamWSettings(opts: AdamWOptions): Required<AdamWOptions> {
  return {
    lr: opts.lr,
    beta1: opts.beta1 ?? 0.9,
    beta2: opts.beta2 ?? 0.999,
    eps: opts.eps ?? 1e-8,
    weightDecay: opts.weightDecay ?? 0.01,
    clipNorm: opts.clipNorm ?? 1,
  };
}

/** Global L2 norm of a set of gradients. */
export function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let sum = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sum += (g[i] as number) * (g[i] as number);
  return Math.sqrt(sum);
}

/** AdamW over named Float32Array weights; moments are kept per weight name. */
export class AdamW {
  /** The settings with their defaults filled in. */
  readonly opts: Required<AdamWOptions>;
  /** First moments per weight name. */
  readonly m = new Map<string, Float32Array>();
  /** Second moments per weight name. */
  readonly v = new Map<string, Float32Array>();
  /** Optimizer steps taken (bias correction uses it). */
  step = 0;

  /** Zero moments for every weight of `weights`. */
  constructor(weights: ReadonlyMap<string, Float32Array>, opts: AdamWOptions) {
    this.opts = adamWSettings(opts);
    for (const [name, w] of weights) {
      this.m.set(name, new Float32Array(w.length));
      this.v.set(name, new Float32Array(w.length));
    }
  }

  /**
   * One update of `weights` in place with learning rate `lr` (the schedule already applied); a weight
   * without a gradient is left alone. Returns the gradients' global norm before clipping.
   */
  apply(weights: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.opts;
    const norm = globalNorm(grads);
    const scale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step++;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    for (const [name, p] of weights) {
      const g = grads.get(name);
      const m = this.m.get(name);
      const v = this.v.get(name);
      if (!g || !m || !v) continue;
      const decay = decays(name) && weightDecay > 0 ? 1 - lr * weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = (g[i] as number) * scale;
        const mi = (m[i] as number) * beta1 + gi * (1 - beta1);
        const vi = (v[i] as number) * beta2 + gi * gi * (1 - beta2);
        m[i] = mi;
        v[i] = vi;
        p[i] = (p[i] as number) * decay - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
      }
    }
    return norm;
  }
}
