/**
 * Reference engine (tfjs on WebAssembly, independent of onnxruntime): the trainer colts had before its
 * onnxruntime trainer, kept for the parity tests (test/train/ort-trainer.test.ts) and the training
 * benchmark. Not part of the package.
 *
 * AdamW (Loshchilov & Hutter 2019: weight decay decoupled from the gradient step) with the linear
 * warm-up + linear decay schedule of HF transformers' get_linear_schedule_with_warmup, and global
 * gradient-norm clipping. State (m, v, step) is plain tfjs variables so training state can save it.
 */
import { adamWSettings, decays, type AdamWOptions } from "../../../src/train/optim.js";
import { tf } from "./tf.js";

export { decays, linearSchedule, type AdamWOptions } from "../../../src/train/optim.js";

export class AdamW {
  readonly opts: Required<AdamWOptions>;
  /** First and second moments per parameter name. */
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Optimizer steps taken (bias correction uses it). */
  step = 0;

  constructor(params: ReadonlyMap<string, tf.Variable>, opts: AdamWOptions) {
    this.opts = adamWSettings(opts);
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** Global L2 norm of the gradients. */
  static globalNorm(grads: Record<string, tf.Tensor>): number {
    return tf.tidy(() => Math.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0] ?? 0));
  }

  /** One update with learning rate `lr` (the schedule already applied); returns the gradient norm before clipping. */
  apply(params: ReadonlyMap<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): number {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.opts;
    const norm = AdamW.globalNorm(grads);
    const scale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    this.step++;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    for (const [name, p] of params) {
      const g0 = grads[name];
      const m = this.m.get(name);
      const v = this.v.get(name);
      if (!g0 || !m || !v) continue;
      // One tidy per parameter: temporaries of all parameters at once would need ~8x the model in memory.
      tf.tidy(() => {
        const g = scale === 1 ? g0 : tf.mul(g0, scale);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decayed = decays(name) && weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    }
    return norm;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
