/**
 * AdamW (Loshchilov & Hutter, 2019) with decoupled weight decay, as torch.optim.AdamW:
 *
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
 *   w = w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) - lr * wd * w
 *
 * Gradients are first clipped to a global L2 norm (1.0 by default, as Hugging Face's Trainer).
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** Clip gradients to this global norm; 0 disables clipping. */
  maxGradNorm?: number;
}

export class AdamW {
  private readonly lr: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private readonly maxGradNorm: number;
  private readonly decayed: Set<tf.Variable>;
  private readonly moments = new Map<tf.Variable, { m: tf.Variable; v: tf.Variable }>();
  private step = 0;

  /** `decayed`: the variables that get weight decay (the others only the Adam update). */
  constructor(options: AdamWOptions, decayed: Iterable<tf.Variable>) {
    if (!(options.learningRate > 0)) throw new Error(`AdamW: learning rate must be positive, got ${options.learningRate}`);
    this.lr = options.learningRate;
    this.b1 = options.beta1 ?? 0.9;
    this.b2 = options.beta2 ?? 0.95;
    this.eps = options.epsilon ?? 1e-8;
    this.wd = options.weightDecay ?? 0.1;
    this.maxGradNorm = options.maxGradNorm ?? 1.0;
    this.decayed = new Set(decayed);
  }

  /** One update of every variable in `grads` (pairs of variable and gradient). */
  apply(grads: ReadonlyArray<readonly [tf.Variable, tf.Tensor]>): void {
    this.step++;
    const t = this.step;
    const stepSize = (this.lr * Math.sqrt(1 - this.b2 ** t)) / (1 - this.b1 ** t);
    tf.tidy(() => {
      const clip = this.clipFactor(grads.map(([, g]) => g));
      for (const [variable, rawGrad] of grads) {
        const g = clip ? tf.mul(rawGrad, clip) : rawGrad;
        let state = this.moments.get(variable);
        if (!state) {
          state = { m: tf.variable(tf.zerosLike(variable), false), v: tf.variable(tf.zerosLike(variable), false) };
          this.moments.set(variable, state);
        }
        const m = tf.add(tf.mul(state.m, this.b1), tf.mul(g, 1 - this.b1));
        const v = tf.add(tf.mul(state.v, this.b2), tf.mul(tf.square(g), 1 - this.b2));
        state.m.assign(m);
        state.v.assign(v);
        // eps is scaled like torch's, which adds it to the bias-corrected sqrt(v)
        const update = tf.mul(tf.div(m, tf.add(tf.sqrt(v), this.eps * Math.sqrt(1 - this.b2 ** t))), stepSize);
        const decayed = this.decayed.has(variable) && this.wd > 0 ? tf.mul(variable, 1 - this.lr * this.wd) : variable;
        variable.assign(tf.sub(decayed, update));
      }
    });
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }

  /** min(1, maxNorm / ||g||) as a scalar tensor, or null without clipping. */
  private clipFactor(grads: tf.Tensor[]): tf.Scalar | null {
    if (this.maxGradNorm <= 0 || grads.length === 0) return null;
    const sq = tf.addN(grads.map((g) => tf.sum(tf.square(g))));
    return tf.minimum(tf.scalar(1), tf.div(this.maxGradNorm, tf.add(tf.sqrt(sq), 1e-6))) as tf.Scalar;
  }
}
