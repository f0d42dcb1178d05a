/**
 * AdamW (Loshchilov & Hutter, 2019) with decoupled weight decay, as torch.optim.AdamW:
 *
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
 *   w = w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) - lr * wd * w
 *
 * Gradients are first clipped to a global L2 norm (1.0 by default, as Hugging Face's Trainer).
 */
import * as tf from '@tensorflow/tfjs';
import { readView, uploadBuffer, withKernels } from '../tensor/kernels.js';
import { addressOf } from './simd.js';
import { optimizerLoops, type OptimizerLoops } from './simd-elementwise.js';

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
  /** First and second moments, in JS: the update is a handful of elementwise operations that
   * cost one kernel dispatch each in TensorFlow.js, but one loop here. */
  private readonly moments = new Map<tf.Variable, { m: Float32Array; v: Float32Array; w?: Float32Array; dataId?: object }>();
  /** On the wasm backend: the moments as tensors on its heap, updated by one SIMD loop. */
  private readonly heapMoments = new Map<tf.Variable, { m: tf.Tensor; v: tf.Tensor }>();
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
    // eps is scaled like torch's, which adds it to the bias-corrected sqrt(v)
    const eps = this.eps * Math.sqrt(1 - this.b2 ** t);
    const { b1, b2 } = this;
    const loops = grads.every(([variable]) => variable.size % 4 === 0 && !this.moments.has(variable)) ? optimizerLoops() : undefined;
    const clip = this.clipFactor(
      grads.map(([, g]) => g),
      loops,
    );
    if (loops) {
      grads.forEach(([variable, g]) => {
        if (g.size !== variable.size) throw new Error(`AdamW: gradient of shape [${g.shape}] for a variable of shape [${variable.shape}]`);
        let state = this.heapMoments.get(variable);
        if (!state) {
          state = { m: tf.keep(tf.zeros([variable.size])), v: tf.keep(tf.zeros([variable.size])) };
          this.heapMoments.set(variable, state);
        }
        const keep = this.decayed.has(variable) && this.wd > 0 ? 1 - this.lr * this.wd : 1;
        const next = withKernels((k) => k.tensor(k.alloc(variable.shape)));
        loops.adamw(
          addressOf(variable),
          addressOf(state.m),
          addressOf(state.v),
          addressOf(g),
          addressOf(next),
          variable.size,
          clip,
          b1,
          1 - b1,
          b2,
          1 - b2,
          keep,
          eps,
          stepSize,
        );
        variable.assign(next);
        next.dispose();
      });
      return;
    }
    grads.forEach(([variable, g]) => {
      if (g.size !== variable.size) throw new Error(`AdamW: gradient of shape [${g.shape}] for a variable of shape [${variable.shape}]`);
      // a view, read before this iteration's upload allocates
      const gv = readView(g);
      let state = this.moments.get(variable);
      if (!state) {
        state = { m: new Float32Array(variable.size), v: new Float32Array(variable.size) };
        this.moments.set(variable, state);
      }
      const { m, v } = state;
      // the values this optimiser last wrote, unless the variable was assigned since
      const w = state.w && state.dataId === variable.dataId ? state.w : Float32Array.from(variable.dataSync() as Float32Array);
      const keep = this.decayed.has(variable) && this.wd > 0 ? 1 - this.lr * this.wd : 1;
      // written to a separate buffer too: the backend may keep the array it is given (cpu)
      const upload = uploadBuffer(w.length);
      adamwUpdate(w, m, v, gv, upload, clip, b1, b2, keep, eps, stepSize);
      const next = tf.tensor(upload, variable.shape, 'float32');
      variable.assign(next);
      next.dispose();
      state.w = w;
      state.dataId = variable.dataId;
    });
  }

  dispose(): void {
    this.moments.clear();
    for (const { m, v } of this.heapMoments.values()) tf.dispose([m, v]);
    this.heapMoments.clear();
  }

  /** min(1, maxNorm / ||g||) over all gradients; 1 without clipping. */
  private clipFactor(grads: readonly tf.Tensor[], loops?: OptimizerLoops): number {
    if (this.maxGradNorm <= 0 || grads.length === 0) return 1;
    let sq = 0;
    for (const t of grads) {
      if (loops && t.size % 4 === 0) {
        sq += loops.sumSquares(addressOf(t), t.size);
        continue;
      }
      const g = readView(t);
      for (let j = 0; j < g.length; j++) sq += (g[j] as number) * (g[j] as number);
    }
    return Math.min(1, this.maxGradNorm / (Math.sqrt(sq) + 1e-6));
  }
}

/** One AdamW step over a variable's values, in place (w, m, v), w also into `out`. */
function adamwUpdate(
  w: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  out: Float32Array,
  clip: number,
  b1: number,
  b2: number,
  keep: number,
  eps: number,
  stepSize: number,
): void {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let j = 0; j < w.length; j++) {
    const gj = (g[j] as number) * clip;
    const mj = b1 * (m[j] as number) + c1 * gj;
    const vj = b2 * (v[j] as number) + c2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    const wj = (w[j] as number) * keep - (mj / (Math.sqrt(vj) + eps)) * stepSize;
    w[j] = wj;
    out[j] = wj;
  }
}
