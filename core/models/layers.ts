/**
 * Transformer building blocks with hand-written gradients, written for the wasm backend, where a
 * small model's training step costs kernel dispatches rather than FLOPs:
 *
 * - Each block (projection with its LoRA branch, the q, k, v projections together, LayerNorm,
 *   RMSNorm, GELU, SwiGLU, causal self-attention, a residual connection) is one node on the
 *   gradient tape. Its forward records nothing, and its backward runs only the products and
 *   elementwise kernels the derivative needs, instead of tfjs's generic gradients of each
 *   elementary op (which also clone every saved input). Inside a block, kernels are called
 *   directly on the backend (kernels.ts), without the engine's per-op bookkeeping.
 * - Gradients are per input and lazy: backprop asks only for the inputs on a path from the
 *   trained weights, so no work is spent on, say, the input gradient of the first layer when
 *   only adapters train.
 * - Inside a training step (withBackpropState) what backward needs is kept without copies and
 *   freed when the step ends.
 * - Products use explicit transposes: the wasm backend runs a 2-D product through XNNPACK only
 *   without transpose flags (it runs others, and every batched product, as a plain loop about
 *   13x slower). XNNPACK repacks the right operand whenever it is a new tensor (about 3.5 ns an
 *   element), so products are ordered to keep that operand a weight, a cached transpose of a
 *   frozen weight, or a narrow [rows, r] activation. Attention, batched by nature, runs as a JS
 *   kernel on CPU-side backends (causalSelfAttentionJs), its inner loops in WebAssembly SIMD on
 *   the wasm backend (simd.ts).
 * - The embedding lookup has its own gradient: wasm has no UnsortedSegmentSum kernel, so
 *   `tf.gather` cannot be differentiated there.
 *
 * Activations are row-major `[rows, features]` with rows = batch * time.
 */
import * as tf from '@tensorflow/tfjs';
import { alias, readView, uploadBuffer, withKernels } from './kernels.js';
import { dropoutMask, dropPositions } from './lora.js';
import { activationLoops, addressOf, attentionLoops, heapF32, normLoops, type AttentionLoops, type NormLoops } from './simd.js';

// ---------------------------------------------------------------------------------------------
// One tape node with per-input lazy gradients

/** Tensors a block's backward needs, by name (kept for backprop, see block). */
type Saved = Record<string, tf.Tensor>;

export interface BlockForward<T extends tf.Tensor> {
  value: T;
  save?: Saved;
  /**
   * Called once by backprop with the output gradient: does the work several input gradients
   * share, then returns one thunk per input (in input order) that computes that input's
   * gradient; backprop calls only the thunks of inputs it needs.
   */
  backward: (dy: tf.Tensor, saved: Saved) => Array<() => tf.Tensor>;
}

interface KernelFuncParams {
  forwardFunc: (backend: unknown, save: (tensors: tf.Tensor[]) => void) => tf.Tensor;
  backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<number, () => tf.Tensor>;
  inputs: Record<number, tf.Tensor>;
}

/** The engine entry point under tf.customGrad, which also takes lazy gradients. */
function engineRunKernelFunc(): ((params: KernelFuncParams) => tf.Tensor) | undefined {
  const engine = tf.engine() as unknown as { runKernelFunc?: (params: KernelFuncParams) => tf.Tensor };
  return typeof engine.runKernelFunc === 'function' ? engine.runKernelFunc.bind(engine) : undefined;
}

/**
 * Tensors kept for backprop by blocks recorded inside `withBackpropState`, released when it
 * returns; null outside it. A block's own intermediates are kept as they are and its inputs
 * through an alias on the same data, at no copy, where the engine's save() copies each tensor.
 */
let keptForBackprop: tf.Tensor[] | null = null;

/**
 * Runs `f` (which records and differentiates blocks, e.g. a tf.variableGrads) and then frees
 * what its blocks kept for backprop. Blocks recorded outside such a scope use the engine's
 * save() instead, which copies.
 */
export function withBackpropState<T>(f: () => T): T {
  if (keptForBackprop) return f();
  keptForBackprop = [];
  try {
    return f();
  } finally {
    const kept = keptForBackprop;
    keptForBackprop = null;
    tf.dispose(kept);
  }
}

/** Keeps `t` until the current withBackpropState scope ends; false (nothing kept) outside one. */
export function keepForBackprop(t: tf.Tensor): boolean {
  if (!keptForBackprop) return false;
  keptForBackprop.push(tf.keep(t));
  return true;
}

function isTapeOn(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}

/**
 * Runs `forward` as one differentiable op of `inputs`. Inside `forward` nothing is recorded on
 * the tape; anything `backward` needs must be an input, a value in `save`, or a tensor that
 * outlives the step (a variable or a cached constant).
 */
export function block<T extends tf.Tensor>(inputs: readonly tf.Tensor[], forward: () => BlockForward<T>): T {
  let spec: BlockForward<T> | undefined;
  let names: string[] = [];
  const kept = keptForBackprop && isTapeOn() ? keptForBackprop : null;
  let aliases: tf.Tensor[] = [];
  const forwardFunc = (save: (tensors: tf.Tensor[]) => void): T => {
    spec = forward();
    names = Object.keys(spec.save ?? {});
    if (names.length > 0) {
      const tensors = names.map((n) => (spec?.save as Saved)[n] as tf.Tensor);
      if (kept) {
        // the block's own intermediates are kept as they are; inputs and persistent tensors
        // (variables, cached constants) through an alias, so that releasing does not free them
        aliases = tensors.map((t) => tf.keep(inputs.includes(t) || t.kept || t instanceof tf.Variable ? alias(t) : t));
        kept.push(...aliases);
      } else save(tensors);
    }
    return spec.value;
  };
  const thunks = (dy: tf.Tensor, saved: tf.Tensor[]): Array<() => tf.Tensor> => {
    const byName: Saved = {};
    const values = kept ? aliases : saved;
    names.forEach((n, i) => (byName[n] = values[i] as tf.Tensor));
    const out = (spec as BlockForward<T>).backward(dy, byName);
    if (out.length !== inputs.length) throw new Error(`block: backward returned ${out.length} gradients for ${inputs.length} inputs`);
    return out;
  };
  const run = engineRunKernelFunc();
  if (run) {
    const inputMap: Record<number, tf.Tensor> = {};
    inputs.forEach((t, i) => (inputMap[i] = t));
    return run({
      forwardFunc: (_backend, save) => forwardFunc(save),
      backwardsFunc: (dy, saved) => {
        const map: Record<number, () => tf.Tensor> = {};
        thunks(dy, saved).forEach((t, i) => (map[i] = t));
        return map;
      },
      inputs: inputMap,
    }) as T;
  }
  // Fallback for an engine without runKernelFunc: every gradient, computed eagerly.
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    return {
      value: forwardFunc((ts) => save(ts)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => thunks(dy as tf.Tensor, saved).map((t) => t()),
    };
  });
  return op(...inputs) as T;
}

// ---------------------------------------------------------------------------------------------
// Products

export interface LoraBranch {
  /** A: [in, r]. */
  a: tf.Tensor2D;
  /** B: [r, out]. */
  b: tf.Tensor2D;
  /** The LoRA scale alpha / r. */
  scale: number;
  /** Dropout of the adapter's input: its rate and the seed of this call's mask (lora.ts
   * dropoutMask, with the scale folded in); absent, no dropout. */
  dropout?: { rate: number; seed: number } | undefined;
  /** Whether A and B receive gradients. */
  train: boolean;
}

export interface DenseWeights {
  /** W: [in, out]. */
  w: tf.Tensor2D;
  bias?: tf.Tensor1D | undefined;
  /** W^T, when W is frozen and its transpose is kept; otherwise transposed when needed. */
  wT?: (() => tf.Tensor2D) | undefined;
  /** Whether W and the bias receive gradients. */
  train: boolean;
  lora?: LoraBranch | undefined;
}

/**
 * y = x W + b + (alpha / r) dropout(x) A B, the LoRA update of Hu et al. (2021). `x`: [rows, in]. Gradients: x always; W, b when `train`; A, B when
 * `lora.train`.
 */
export function dense(x: tf.Tensor2D, p: DenseWeights): tf.Tensor2D {
  const { w, bias, lora } = p;
  const inputs: tf.Tensor[] = [x];
  if (p.train) {
    inputs.push(w);
    if (bias) inputs.push(bias);
  }
  if (lora?.train) inputs.push(lora.a, lora.b);
  return block<tf.Tensor2D>(inputs, () =>
    withKernels((k) => {
      const base = bias ? k.matMulBias(x, w, bias) : k.matMul(x, w);
      // W itself only when no transpose is kept (it may be an intermediate, e.g. a transposed table)
      const save: Saved = { ...(p.train ? { x } : {}), ...(p.wT ? {} : { w }) };
      let value = base;
      // on wasm: dropout as a SIMD scaling with the dropped elements zeroed from JS (no mask)
      const loops = lora && x.size % 4 === 0 ? activationLoops() : undefined;
      let drops: Int32Array | undefined;
      const keep = lora ? (lora.dropout ? lora.scale / (1 - lora.dropout.rate) : lora.scale) : 1;
      if (lora) {
        const { scale, dropout } = lora;
        let xm: tf.TensorInfo;
        let mask: tf.TensorInfo | undefined;
        if (loops) {
          xm = k.alloc(x.shape);
          loops.scale(addressOf(x), addressOf(xm), keep, x.size);
          if (dropout) {
            drops = dropPositions(x.size, dropout.rate, dropout.seed);
            const heap = heapF32();
            const at = addressOf(xm) / 4;
            for (let n = 0; n < drops.length; n++) heap[at + (drops[n] as number)] = 0;
          }
        } else {
          mask = dropout ? k.upload(dropoutMask(x.size, dropout.rate, dropout.seed, scale, uploadBuffer(x.size)), x.shape) : undefined;
          xm = mask ? k.mul(x, mask) : k.mul(x, k.scalar(scale));
        }
        const u = k.matMul(xm, lora.a);
        value = k.add(base, k.matMul(u, lora.b));
        save.xm = k.tensor(xm);
        save.u = k.tensor(u);
        if (mask) save.mask = k.tensor(mask);
      }
      return {
        value: k.tensor<tf.Tensor2D>(value),
        save,
        backward: (dyIn, s) => {
          const dy = dyIn as tf.Tensor2D;
          // shared by the x and A gradients
          const dU = lora ? withKernels((kb) => kb.tensor(kb.matMul(dy, kb.transpose(lora.b)))) : undefined;
          const grads: Array<() => tf.Tensor> = [
            () =>
              withKernels((kb) => {
                const dx = kb.matMul(dy, p.wT ? p.wT() : kb.transpose(s.w as tf.Tensor2D));
                if (!lora || !dU) return kb.tensor(dx);
                const dxm = kb.matMul(dU, kb.transpose(lora.a));
                if (loops) {
                  // dx += keep dxm, with dxm zeroed at the dropped elements first
                  if (drops) {
                    const heap = heapF32();
                    const at = addressOf(dxm) / 4;
                    for (let n = 0; n < drops.length; n++) heap[at + (drops[n] as number)] = 0;
                  }
                  loops.axpy(addressOf(dx), addressOf(dxm), keep, x.size);
                  return kb.tensor(dx);
                }
                return kb.tensor(kb.add(dx, kb.mul(dxm, s.mask ?? kb.scalar(lora.scale))));
              }),
          ];
          if (p.train) {
            grads.push(() => withKernels((kb) => kb.tensor(kb.matMul(kb.transpose(s.x as tf.Tensor2D), dy))));
            if (bias) grads.push(() => withKernels((kb) => kb.tensor(kb.sumRows(dy))));
          }
          if (lora?.train) {
            grads.push(
              () => withKernels((kb) => kb.tensor(kb.matMul(kb.transpose(s.xm as tf.Tensor2D), dU as tf.Tensor2D))),
              // (dy^T u)^T rather than u^T dy: the right operand (packed per call) stays [rows, r]
              () => withKernels((kb) => kb.tensor(kb.transpose(kb.matMul(kb.transpose(dy), s.u as tf.Tensor2D)))),
            );
          }
          return grads;
        },
      };
    }),
  );
}

export interface QkvLora {
  /** A ([in, r]) and B ([r, out]) of the q, k and v adapters, in that order. */
  a: readonly tf.Tensor2D[];
  b: readonly tf.Tensor2D[];
  /** The LoRA scale alpha / r. */
  scale: number;
  /** Input dropout: its rate and the seed of each adapter's mask (q, k, v), as `dense` takes. */
  dropout?: { rate: number; seeds: readonly number[] } | undefined;
  /** Whether the six adapter matrices receive gradients. */
  train: boolean;
}

export interface QkvWeights {
  /** W_q | W_k | W_v side by side, [in, 3 out], frozen. */
  w: tf.Tensor2D;
  /** Its transpose [3 out, in]. */
  wT: () => tf.Tensor2D;
  /** b_q | b_k | b_v, [3 out]. */
  bias?: tf.Tensor1D | undefined;
  lora?: QkvLora | undefined;
}

/**
 * The q, k and v projections of one input under frozen base weights, as one block with output
 * q | k | v side by side ([rows, 3 out]): what three `dense` calls give, the same dropout masks
 * included, in a fraction of the kernels. The adapters' updates (alpha/r) dropout_j(x) A_j B_j
 * are computed together: x [A_q | A_k | A_v] in one product, the dropped inputs' contributions
 * subtracted in JS (dropout is sparse), then one product with the block-diagonal [B_q, B_k, B_v].
 * Backward likewise, fixing up only the dropped elements. The block-diagonal products also
 * multiply their zero blocks (see flops.ts). Gradients: x; the six adapter matrices (a_q, b_q,
 * a_k, b_k, a_v, b_v) when `lora.train`.
 */
export function qkvDense(x: tf.Tensor2D, p: QkvWeights): tf.Tensor2D {
  const { lora } = p;
  const [rows, inDim] = x.shape;
  const out3 = p.w.shape[1];
  const out = out3 / 3;
  const inputs: tf.Tensor[] = [x];
  if (lora?.train) for (let j = 0; j < 3; j++) inputs.push(lora.a[j] as tf.Tensor, lora.b[j] as tf.Tensor);
  return block<tf.Tensor2D>(inputs, () =>
    withKernels((k) => {
      const base = p.bias ? k.matMulBias(x, p.w, p.bias) : k.matMul(x, p.w);
      if (!lora) {
        return { value: k.tensor<tf.Tensor2D>(base), backward: (dy) => [() => withKernels((kb) => kb.tensor(kb.matMul(dy, p.wT())))] };
      }
      const r = (lora.a[0] as tf.Tensor2D).shape[1];
      const r3 = 3 * r;
      const keep = lora.dropout ? lora.scale / (1 - lora.dropout.rate) : lora.scale;
      // keep * A_j and B_j as JS copies (views do not outlive an allocation)
      const a = lora.a.map((t) => scaledCopy(readView(t), keep));
      const b = lora.b.map((t) => readView(t).slice());
      const drops = lora.dropout ? lora.dropout.seeds.map((seed) => dropPositions(rows * inDim, (lora.dropout as { rate: number }).rate, seed)) : undefined;
      // u = keep (x A_j - the dropped inputs' contributions), for all three side by side
      const aCat = uploadBuffer(inDim * r3);
      for (let j = 0; j < 3; j++) for (let c = 0; c < inDim; c++) for (let t = 0; t < r; t++) aCat[c * r3 + j * r + t] = (a[j] as Float32Array)[c * r + t] as number;
      const u = k.edit(k.matMul(x, k.upload(aCat, [inDim, r3])), (uv) => {
        if (drops) subtractDropped(uv, r3, r, drops, inDim, readView(x), a, 'rows');
      });
      const bDiag = uploadBuffer(r3 * out3).fill(0);
      for (let j = 0; j < 3; j++) for (let t = 0; t < r; t++) bDiag.set((b[j] as Float32Array).subarray(t * out, (t + 1) * out), (j * r + t) * out3 + j * out);
      const value = k.add(base, k.matMul(u, k.upload(bDiag, [r3, out3])));
      return {
        value: k.tensor<tf.Tensor2D>(value),
        save: { x, u: k.tensor(u) },
        backward: (dyIn, s) => {
          const dy = dyIn as tf.Tensor2D;
          // dU = dy diag(B)^T, shared by the x and A gradients
          const bDiagT = uploadBuffer(out3 * r3).fill(0);
          for (let j = 0; j < 3; j++) for (let t = 0; t < r; t++) for (let o = 0; o < out; o++) bDiagT[(j * out + o) * r3 + j * r + t] = (b[j] as Float32Array)[t * out + o] as number;
          const dU = withKernels((kb) => kb.tensor(kb.matMul(dy, kb.upload(bDiagT, [out3, r3]))));
          let adapterGrads: Float32Array[] | undefined;
          const adapters = (): Float32Array[] => {
            if (adapterGrads) return adapterGrads;
            adapterGrads = withKernels((kb) => {
              // dA_j = keep (x with j's drops zeroed)^T dU_j;  dB_j = u_j^T dy_j, the diagonal blocks of u^T dy
              const dA = kb.edit(kb.matMul(kb.transpose(s.x as tf.Tensor2D), dU), (m) => {
                if (drops) subtractDropped(m, r3, r, drops, inDim, readView(s.x as tf.Tensor), [readView(dU)], 'columns');
              });
              const dBt = kb.matMul(kb.transpose(dy), s.u as tf.Tensor2D);
              const m = readView(kb.tensor(dA));
              const grads: Float32Array[] = [];
              for (let j = 0; j < 3; j++) {
                const g = new Float32Array(inDim * r);
                for (let c = 0; c < inDim; c++) for (let t = 0; t < r; t++) g[c * r + t] = keep * (m[c * r3 + j * r + t] as number);
                grads.push(g);
              }
              const mt = readView(kb.tensor(dBt));
              for (let j = 0; j < 3; j++) {
                const g = new Float32Array(r * out);
                for (let t = 0; t < r; t++) for (let o = 0; o < out; o++) g[t * out + o] = mt[(j * out + o) * r3 + j * r + t] as number;
                grads.splice(2 * j + 1, 0, g);
              }
              return grads;
            });
            return adapterGrads;
          };
          const grads: Array<() => tf.Tensor> = [
            () =>
              withKernels((kb) => {
                // dx = dy W^T + keep dU [A_q | A_k | A_v]^T, less the dropped elements' share
                const aCatT = uploadBuffer(r3 * inDim);
                for (let j = 0; j < 3; j++) for (let t = 0; t < r; t++) for (let c = 0; c < inDim; c++) aCatT[(j * r + t) * inDim + c] = (a[j] as Float32Array)[c * r + t] as number;
                const dx = kb.add(kb.matMul(dy, p.wT()), kb.matMul(dU, kb.upload(aCatT, [r3, inDim])));
                return kb.tensor(
                  kb.edit(dx, (dv) => {
                    if (!drops) return;
                    const du = readView(dU);
                    for (let j = 0; j < 3; j++) {
                      const dropped = drops[j] as Int32Array;
                      const aj = a[j] as Float32Array;
                      for (let n = 0; n < dropped.length; n++) {
                        const idx = dropped[n] as number;
                        const i = (idx / inDim) | 0;
                        const uo = i * r3 + j * r;
                        const ao = (idx - i * inDim) * r;
                        let sum = 0;
                        for (let t = 0; t < r; t++) sum += (du[uo + t] as number) * (aj[ao + t] as number);
                        dv[idx] = (dv[idx] as number) - sum;
                      }
                    }
                  }),
                );
              }),
          ];
          if (lora.train) {
            for (let n = 0; n < 6; n++) {
              const shape = n % 2 === 0 ? [inDim, r] : [r, out];
              grads.push(() => tf.tensor2d(adapters()[n] as Float32Array, shape as [number, number]));
            }
          }
          return grads;
        },
      };
    }),
  );
}

/** values * scale as a new array. */
function scaledCopy(values: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) * scale;
  return out;
}

/**
 * For every element (i, c) dropped from adapter j's input, subtracts x[i, c] times a row of
 * length r: `rows` mode, y[i, j r ..] -= x[i, c] w_j[c r ..] (w_j = keep A_j; the forward u);
 * `columns` mode, y[c, j r ..] -= x[i, c] w[i, j r ..] (w = dU; the A gradient). y has rows of
 * length r3 = 3 r.
 */
function subtractDropped(y: Float32Array, r3: number, r: number, drops: readonly Int32Array[], inDim: number, x: Float32Array, w: readonly Float32Array[], mode: 'rows' | 'columns'): void {
  for (let j = 0; j < 3; j++) {
    const dropped = drops[j] as Int32Array;
    const wj = (mode === 'rows' ? w[j] : w[0]) as Float32Array;
    for (let n = 0; n < dropped.length; n++) {
      const idx = dropped[n] as number;
      const xic = x[idx] as number;
      if (xic === 0) continue;
      const i = (idx / inDim) | 0;
      const c = idx - i * inDim;
      const yo = (mode === 'rows' ? i : c) * r3 + j * r;
      const wo = mode === 'rows' ? c * r : i * r3 + j * r;
      for (let t = 0; t < r; t++) y[yo + t] = (y[yo + t] as number) - xic * (wj[wo + t] as number);
    }
  }
}

/** h + y for a residual connection: both inputs get the output gradient itself (no copies saved). */
export function residual(h: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
  return block<tf.Tensor2D>([h, y], () =>
    withKernels((k) => ({
      value: k.tensor<tf.Tensor2D>(k.add(h, y)),
      // distinct tensors on the same data: backprop may dispose one gradient while using the other
      backward: (dy) => [() => alias(dy), () => alias(dy)],
    })),
  );
}

/**
 * Rows of `table` ([vocab, d]) at `ids` ([n] int32). When `trainTable` is set, the gradient is
 * the scatter-add of dy into the table rows, computed as onehot(ids)^T dy with the one-hot
 * built directly in its transposed [vocab, n] layout.
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D, trainTable: boolean): tf.Tensor2D {
  if (!trainTable) return tf.gather(table, ids);
  const vocab = table.shape[0];
  return block<tf.Tensor2D>([table], () => ({
    value: tf.gather(table, ids) as tf.Tensor2D,
    save: { ids },
    backward: (dy, s) => [
      () => {
        const rowsOfIds = tf.cast(tf.equal(tf.range(0, vocab, 1, 'int32').reshape([vocab, 1]), (s.ids as tf.Tensor1D).reshape([1, -1])), 'float32');
        return tf.matMul(rowsOfIds as tf.Tensor2D, dy as tf.Tensor2D);
      },
    ],
  }));
}

// ---------------------------------------------------------------------------------------------
// Normalisations and activations

/**
 * LayerNorm over the last axis: xhat gain + bias, xhat = (x - mean) / sqrt(var + eps).
 * Backward: dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(var + eps), g = dy * gain.
 */
export function layerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D, eps: number, trainParams = false): tf.Tensor2D {
  return norm(x, gain, bias, eps, trainParams);
}

/**
 * RMSNorm over the last axis: xhat gain, xhat = x / sqrt(mean(x^2) + eps).
 * Backward: dx = (g - xhat mean(g xhat)) / sqrt(mean(x^2) + eps), g = dy * gain.
 */
export function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor1D, eps: number, trainParams = false): tf.Tensor2D {
  return norm(x, gain, undefined, eps, trainParams);
}

/** layerNorm (with `bias`: centred) or rmsNorm (without): SIMD loops where they apply, else kernels. */
function norm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined, eps: number, trainParams: boolean): tf.Tensor2D {
  // the block's inputs: the parameters too when they train
  const inputs: tf.Tensor[] = trainParams ? (bias ? [x, gain, bias] : [x, gain]) : [x];
  const loops = normLoops(x.shape[1], bias !== undefined);
  if (loops) return normSimd(loops, inputs, x, gain, bias, eps, trainParams);
  return block<tf.Tensor2D>(inputs, () =>
    withKernels((k) => {
      const centred = bias ? k.sub(x, k.meanLast(x)) : x;
      const rstd = k.rsqrt(k.add(k.meanLast(k.square(centred)), k.scalar(eps)));
      const xhat = k.mul(centred, rstd);
      const scaled = k.mul(xhat, gain);
      return {
        value: k.tensor<tf.Tensor2D>(bias ? k.add(scaled, bias) : scaled),
        save: { xhat: k.tensor(xhat), rstd: k.tensor(rstd) },
        backward: (dy, s) => {
          const xh = s.xhat as tf.Tensor2D;
          const grads = [
            () =>
              withKernels((kb) => {
                const g = kb.mul(dy, gain);
                const gc = bias ? kb.sub(g, kb.meanLast(g)) : g;
                return kb.tensor(kb.mul(kb.sub(gc, kb.mul(xh, kb.meanLast(kb.mul(g, xh)))), s.rstd as tf.Tensor));
              }),
          ];
          if (trainParams) {
            grads.push(() => withKernels((kb) => kb.tensor(kb.sumRows(kb.mul(dy, xh)))));
            if (bias) grads.push(() => withKernels((kb) => kb.tensor(kb.sumRows(dy))));
          }
          return grads;
        },
      };
    }),
  );
}

/**
 * layerNorm (with `bias`) or rmsNorm (without) on the wasm backend: each direction one SIMD
 * loop over the rows (simd.ts) instead of eight or nine elementwise kernels; the gain and bias
 * gradients, when trained, as in the kernel versions.
 */
function normSimd(
  loops: NormLoops,
  inputs: tf.Tensor[],
  x: tf.Tensor2D,
  gain: tf.Tensor1D,
  bias: tf.Tensor1D | undefined,
  eps: number,
  trainParams: boolean,
): tf.Tensor2D {
  const [rows, d] = x.shape;
  return block<tf.Tensor2D>(inputs, () =>
    withKernels((k) => {
      const out = k.alloc([rows, d]);
      const xhat = k.alloc([rows, d]);
      const rstd = k.alloc([rows, 1]);
      loops.forward(addressOf(x), addressOf(out), addressOf(xhat), addressOf(rstd), addressOf(gain), bias ? addressOf(bias) : 0, rows, eps);
      return {
        value: k.tensor<tf.Tensor2D>(out),
        save: { xhat: k.tensor(xhat), rstd: k.tensor(rstd) },
        backward: (dy, s) => {
          const xh = s.xhat as tf.Tensor2D;
          const grads = [
            () =>
              withKernels((kb) => {
                const dx = kb.alloc([rows, d]);
                loops.backward(addressOf(dy), addressOf(gain), addressOf(xh), addressOf(s.rstd as tf.Tensor), addressOf(dx), rows);
                return kb.tensor(dx);
              }),
          ];
          if (trainParams) {
            grads.push(() => withKernels((kb) => kb.tensor(kb.sumRows(kb.mul(dy, xh)))));
            if (bias) grads.push(() => withKernels((kb) => kb.tensor(kb.sumRows(dy))));
          }
          return grads;
        },
      };
    }),
  );
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/**
 * GPT-2's GELU, tanh approximation: 0.5 x (1 + tanh(c (x + 0.044715 x^3))), written with the
 * identity 0.5 (1 + tanh z) = sigmoid(2z), which is exact and about 8x cheaper on wasm:
 * y = x s, s = sigmoid(z), z = 2c (x + k x^3). Backward: dy (s + x s (1 - s) 2c (1 + 3k x^2)).
 */
export function gelu(x: tf.Tensor2D): tf.Tensor2D {
  const loops = x.size % 4 === 0 ? activationLoops() : undefined;
  if (loops) {
    // on wasm: one SIMD loop each way (simd.ts), s kept, z recomputed from x
    return block<tf.Tensor2D>([x], () =>
      withKernels((k) => {
        const y = k.alloc(x.shape);
        const s = k.alloc(x.shape);
        loops.geluForward(addressOf(x), addressOf(y), addressOf(s), x.size);
        return {
          value: k.tensor<tf.Tensor2D>(y),
          save: { x, s: k.tensor(s) },
          backward: (dy, saved) => [
            () =>
              withKernels((kb) => {
                const dx = kb.alloc(x.shape);
                loops.geluBackward(addressOf(dy), addressOf(saved.x as tf.Tensor), addressOf(saved.s as tf.Tensor), addressOf(dx), x.size);
                return kb.tensor(dx);
              }),
          ],
        };
      }),
    );
  }
  return block<tf.Tensor2D>([x], () =>
    withKernels((k) => {
      const z = k.mul(x, k.add(k.mul(k.square(x), k.scalar(2 * GELU_C * GELU_K)), k.scalar(2 * GELU_C)));
      const s = k.sigmoid(z);
      return {
        value: k.tensor<tf.Tensor2D>(k.mul(x, s)),
        save: { x, s: k.tensor(s), z: k.tensor(z) },
        backward: (dy, saved) => [
          () =>
            withKernels((kb) => {
              const xs = saved.x as tf.Tensor2D;
              const sg = saved.s as tf.Tensor2D;
              // dy/dx = s + x s (1 - s) dz/dx, and x dz/dx = x 2c (1 + 3k x^2) = 3z - 4c x
              const xdz = kb.sub(kb.mul(saved.z as tf.Tensor2D, kb.scalar(3)), kb.mul(xs, kb.scalar(4 * GELU_C)));
              const local = kb.mul(sg, kb.add(kb.mul(kb.sub(kb.scalar(1), sg), xdz), kb.scalar(1)));
              return kb.tensor(kb.mul(dy, local));
            }),
        ],
      };
    }),
  );
}

/**
 * LLaMA's gated unit SiLU(g) * u, SiLU(g) = g sigmoid(g).
 * Backward: du = dy SiLU(g); dg = dy u s (1 + g (1 - s)), s = sigmoid(g).
 */
export function swiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  const loops = gate.size % 4 === 0 ? activationLoops() : undefined;
  if (loops) {
    // on wasm: one SIMD loop per direction and input (simd.ts), s kept
    const n = gate.size;
    return block<tf.Tensor2D>([gate, up], () =>
      withKernels((k) => {
        const y = k.alloc(gate.shape);
        const s = k.alloc(gate.shape);
        loops.swigluForward(addressOf(gate), addressOf(up), addressOf(y), addressOf(s), n);
        return {
          value: k.tensor<tf.Tensor2D>(y),
          save: { gate, up, s: k.tensor(s) },
          backward: (dy, saved) => [
            () =>
              withKernels((kb) => {
                const dg = kb.alloc(gate.shape);
                loops.swigluGate(addressOf(dy), addressOf(saved.gate as tf.Tensor), addressOf(saved.up as tf.Tensor), addressOf(saved.s as tf.Tensor), addressOf(dg), n);
                return kb.tensor(dg);
              }),
            () =>
              withKernels((kb) => {
                const du = kb.alloc(gate.shape);
                loops.swigluUp(addressOf(dy), addressOf(saved.gate as tf.Tensor), addressOf(saved.s as tf.Tensor), addressOf(du), n);
                return kb.tensor(du);
              }),
          ],
        };
      }),
    );
  }
  return block<tf.Tensor2D>([gate, up], () =>
    withKernels((k) => {
      const s = k.sigmoid(gate);
      const silu = k.mul(gate, s);
      return {
        value: k.tensor<tf.Tensor2D>(k.mul(silu, up)),
        save: { gate, up, s: k.tensor(s), silu: k.tensor(silu) },
        backward: (dy, saved) => [
          () =>
            withKernels((kb) => {
              const sg = saved.s as tf.Tensor2D;
              const local = kb.mul(sg, kb.add(kb.mul(saved.gate as tf.Tensor2D, kb.sub(kb.scalar(1), sg)), kb.scalar(1)));
              return kb.tensor(kb.mul(kb.mul(dy, saved.up as tf.Tensor2D), local));
            }),
          () => withKernels((kb) => kb.tensor(kb.mul(dy, saved.silu as tf.Tensor2D))),
        ],
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Attention

/** Additive causal mask [t, t]: 0 where key <= query, a large negative number above the diagonal. */
export function causalMask(seqLen: number): tf.Tensor2D {
  const values = new Float32Array(seqLen * seqLen);
  for (let q = 0; q < seqLen; q++) for (let k = q + 1; k < seqLen; k++) values[q * seqLen + k] = -1e9;
  return tf.tensor2d(values, [seqLen, seqLen]);
}

/**
 * Rotary position tables for the rotate-half layout (dimension i pairs with i + headDim/2,
 * as in Hugging Face's LLaMA): angle(p, i) = p * theta^(-2i / headDim), each of cos and sin
 * repeated over both halves. Returns [seqLen, headDim] tensors.
 */
/**
 * ALiBi's head slopes m_h (Press et al., 2022): 2^(-8/n), 2^(-16/n), ... for n heads, n a power
 * of two; otherwise those of the power of two below n, then every other slope of the one above
 * (as BLOOM computes them).
 */
export function alibiSlopes(heads: number): Float32Array {
  const geometric = (n: number): number[] => Array.from({ length: n }, (_, i) => 2 ** ((-8 * (i + 1)) / n));
  const below = 2 ** Math.floor(Math.log2(heads));
  const slopes = geometric(below);
  if (below < heads) slopes.push(...geometric(2 * below).filter((_, i) => i % 2 === 0).slice(0, heads - below));
  return Float32Array.from(slopes);
}

/** The causal mask plus ALiBi's penalties -m_h (i - j) for query i and key j: [heads, t, t]. */
export function alibiMask(seqLen: number, slopes: Float32Array): tf.Tensor3D {
  const values = new Float32Array(slopes.length * seqLen * seqLen);
  slopes.forEach((m, h) => {
    for (let i = 0; i < seqLen; i++)
      for (let j = 0; j < seqLen; j++) values[(h * seqLen + i) * seqLen + j] = j <= i ? -m * (i - j) : -1e9;
  });
  return tf.tensor3d(values, [slopes.length, seqLen, seqLen]);
}

export function rotaryTables(seqLen: number, headDim: number, theta: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  if (headDim % 2 !== 0) throw new Error(`rotaryTables: head dimension ${headDim} must be even`);
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * headDim);
  const sin = new Float32Array(seqLen * headDim);
  for (let p = 0; p < seqLen; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / headDim);
      cos[p * headDim + i] = cos[p * headDim + i + half] = Math.cos(angle);
      sin[p * headDim + i] = sin[p * headDim + i + half] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [seqLen, headDim]), sin: tf.tensor2d(sin, [seqLen, headDim]) };
}

/**
 * rotateHalf as a product: x R = [-x2, x1] for x = [x1, x2] (halves of the head dimension).
 * A [headDim, headDim] signed permutation; its transpose is -R.
 */
export function rotateHalfMatrix(headDim: number): tf.Tensor2D {
  const half = headDim / 2;
  const r = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    r[(i + half) * headDim + i] = -1;
    r[i * headDim + i + half] = 1;
  }
  return tf.tensor2d(r, [headDim, headDim]);
}

export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
}

/**
 * Rotary embedding for query and key heads: x cos + rotateHalf(x) sin, with rotateHalf(x) = x R.
 * The query tables carry the attention scale 1/sqrt(headDim).
 */
export interface RotaryInput {
  /** The tables' values, [t * hd] row-major (for the JS kernel). */
  cosValues: Float32Array;
  sinValues: Float32Array;
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  cosQ: tf.Tensor2D;
  sinQ: tf.Tensor2D;
  /** R and R^T (see rotateHalfMatrix). */
  r: tf.Tensor2D;
  rT: tf.Tensor2D;
}

/** [batch*t, heads*hd] -> [batch*heads, t, hd] */
export function splitHeads(x: tf.Tensor2D, s: AttentionShape): tf.Tensor3D {
  const headDim = x.shape[1] / s.heads;
  return tf.reshape(toHeads(x, s), [s.batch * s.heads, s.seqLen, headDim]);
}

/** [batch*heads, t, hd] -> [batch*t, heads*hd] */
export function mergeHeads(x: tf.Tensor3D, s: AttentionShape): tf.Tensor2D {
  return fromHeads(tf.reshape(x, [s.batch, s.heads, s.seqLen, x.shape[2]]), s);
}

/** [batch*t, heads*hd] -> [batch, heads, t, hd] */
function toHeads(x: tf.Tensor, s: AttentionShape): tf.Tensor4D {
  const headDim = x.shape[1] as number;
  return tf.transpose(tf.reshape(x, [s.batch, s.seqLen, s.heads, headDim / s.heads]), [0, 2, 1, 3]);
}

/** [batch, heads, t, hd] -> [batch*t, heads*hd] */
function fromHeads(x: tf.Tensor, s: AttentionShape): tf.Tensor2D {
  const headDim = x.shape[3] as number;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [s.batch * s.seqLen, s.heads * headDim]);
}

/** x cos + (x R) sin over heads [batch, heads, t, hd]; cos, sin: [t, hd]. */
function rotate(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D, r: tf.Tensor2D): tf.Tensor4D {
  const hd = x.shape[3];
  const xr = tf.reshape(tf.matMul(tf.reshape(x, [-1, hd]), r), x.shape);
  return tf.add(tf.mul(x, cos), tf.mul(xr, sin));
}

/**
 * Causal scaled dot-product attention of Vaswani et al. (2017) over [batch*t, heads*hd] queries,
 * keys and values (optionally rotary-embedded, Su et al. 2021); returns [batch*t, heads*hd].
 * Right padding needs no key mask: under the causal mask, real queries only see earlier (real)
 * keys, and padded query rows are excluded from every loss.
 *
 * Backward, with P = softmax(S), S = Q K^T / sqrt(hd) + mask (a constant: ALiBi's penalties, which
 * ride in it, change nothing below):
 *   dV = P^T dO,  dP = dO V^T,  dS = P (dP - rowsum(dP P)),  dQ = dS K / sqrt(hd),  dK = dS^T Q / sqrt(hd)
 * (through the rotation: d x = g cos + (g sin) R^T).
 */
export function causalSelfAttention(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  s: AttentionShape,
  /** Added to the scores: the causal mask [t, t], or with ALiBi the mask plus its penalties [heads, t, t]. */
  mask: tf.Tensor2D | tf.Tensor3D,
  rotary?: RotaryInput,
): tf.Tensor2D {
  const headDim = q.shape[1] / s.heads;
  const scale = 1 / Math.sqrt(headDim);
  return block([q, k, v], () => {
    let qh = toHeads(q, s);
    let kh = toHeads(k, s);
    const vh = toHeads(v, s);
    if (rotary) {
      qh = rotate(qh, rotary.cosQ, rotary.sinQ, rotary.r);
      kh = rotate(kh, rotary.cos, rotary.sin, rotary.r);
    }
    const product = tf.matMul(qh, kh, false, true);
    const p = tf.softmax(tf.add(rotary ? product : tf.mul(product, scale), mask));
    return {
      value: fromHeads(tf.matMul(p, vh), s),
      save: { qh, kh, vh, p },
      backward: (dy, saved) => {
        const doh = toHeads(dy, s);
        const pr = saved.p as tf.Tensor4D;
        const dp = tf.matMul(doh, saved.vh as tf.Tensor4D, false, true);
        const dScores = tf.mul(pr, tf.sub(dp, tf.sum(tf.mul(dp, pr), -1, true)));
        const dProduct = rotary ? dScores : tf.mul(dScores, scale);
        // g cos + (g sin) R^T; (g sin) R^T = (g R^T) sin since sin repeats over both halves
        const unrotate = (g: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D => (rotary ? rotate(g, cos, sin, rotary.rT) : g);
        return [
          () => fromHeads(unrotate(tf.matMul(dProduct, saved.kh as tf.Tensor4D), rotary?.cosQ as tf.Tensor2D, rotary?.sinQ as tf.Tensor2D), s),
          () => fromHeads(unrotate(tf.matMul(dProduct, saved.qh as tf.Tensor4D, true, false), rotary?.cos as tf.Tensor2D, rotary?.sin as tf.Tensor2D), s),
          () => fromHeads(tf.matMul(pr, doh, true, false), s),
        ];
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Attention as a JS kernel

/**
 * Whether the active backend computes in this thread's CPU (wasm, cpu): there the JS attention
 * kernel below beats tfjs's batched products, which wasm runs as a plain loop (about 11 ns per
 * output element plus 0.5 ns per multiply-add) over every pair, masked ones included.
 */
export function attentionRunsInJs(): boolean {
  const backend = tf.getBackend();
  return backend === 'wasm' || backend === 'cpu';
}

/** FLOPs (2 per multiply-add) the JS attention kernel has run so far, as counted by its loops. */
export const jsAttentionFlops = { total: 0 };

/** (query, key) pairs the JS kernel visits: key <= query < the sequence's length, per head. */
export function causalPairs(seqLen: number, lengths?: readonly number[], batch = lengths?.length ?? 1): number {
  let pairs = 0;
  for (let b = 0; b < batch; b++) {
    const len = lengths ? Math.min(lengths[b] as number, seqLen) : seqLen;
    pairs += (len * (len + 1)) / 2;
  }
  return pairs;
}

/** Shape of a JS attention call: heads indexed in place in [batch*t, heads*hd] rows. */
interface Geometry {
  batch: number;
  seqLen: number;
  heads: number;
  hd: number;
  /** Real length of each sequence; rows beyond are padding, left out. */
  lens: Int32Array;
  /** ALiBi's slope of each head: score(i, j) -= slope (i - j). */
  slopes?: Float32Array | undefined;
}

/** A [batch*t, heads*hd] matrix inside a row-major array: row r starts at offset + r * stride. */
interface Rows {
  values: Float32Array;
  offset: number;
  stride: number;
}

/**
 * causalSelfAttention computed in JS over [batch*t, heads*hd] queries, keys and values, with
 * heads indexed in place (no head transposes), the scale, mask and softmax fused, and only the
 * causal pairs (key <= query) visited, of real queries only when the sequences' lengths are
 * given (padded query rows come out 0: under right padding no real position and no loss depends
 * on them). Rotary embedding (tables [t * hd]) is applied in JS too. `q` is either the queries,
 * with `k` and `v` given, or q | k | v side by side ([batch*t, 3 heads*hd], see qkvDense), whose
 * gradient then comes packed the same way. Backward: the score gradients
 * dS = P (dP - rowsum(dP P)) / sqrt(hd) once, for whichever of dQ = dS K and dK = dS^T Q backprop
 * asks for; dV = P^T dO on its own.
 */
export function causalSelfAttentionJs(
  q: tf.Tensor2D,
  k: tf.Tensor2D | undefined,
  v: tf.Tensor2D | undefined,
  s: AttentionShape & { lengths?: readonly number[] | undefined },
  rotary?: { cos: Float32Array; sin: Float32Array },
  alibi?: Float32Array,
): tf.Tensor2D {
  const packed = !k || !v;
  const { batch, seqLen, heads } = s;
  const d = packed ? q.shape[1] / 3 : q.shape[1];
  const hd = d / heads;
  const rows = batch * seqLen;
  const scale = 1 / Math.sqrt(hd);
  const lens = Int32Array.from({ length: batch }, (_, b) => (s.lengths ? Math.min(s.lengths[b] as number, seqLen) : seqLen));
  const g: Geometry = { batch, seqLen, heads, hd, lens, slopes: alibi };
  const product = 2 * heads * causalPairs(seqLen, s.lengths, batch) * hd;
  const stride = packed ? 3 * d : d;
  // where q, k and v sit (views are read right away, never across an allocation)
  const at = (which: 0 | 1 | 2, t: tf.Tensor | undefined): Rows =>
    packed ? { values: readView(q), offset: which * d, stride } : { values: readView(t as tf.Tensor), offset: 0, stride: d };
  const inputs = packed ? [q] : [q, k as tf.Tensor2D, v as tf.Tensor2D];
  const loops = attentionLoops(hd);
  if (loops) return attentionSimd(loops, inputs, packed, g, scale, product, rotary);
  return block(inputs, () => {
    // rotated copies of q and k ([rows, d]), kept for backward
    const rq = rotary ? rotateRows(at(0, q), rows, rotary, g, 1) : undefined;
    const rk = rotary ? rotateRows(at(1, k), rows, rotary, g, 1) : undefined;
    const qRows = (t?: tf.Tensor): Rows => (rq ? { values: rq, offset: 0, stride: d } : at(0, t ?? q));
    const kRows = (t?: tf.Tensor): Rows => (rk ? { values: rk, offset: 0, stride: d } : at(1, t ?? k));
    const p = new Float32Array(batch * heads * seqLen * seqLen);
    const out = uploadBuffer(rows * d);
    attentionForward(qRows(), kRows(), at(2, v), p, { values: out, offset: 0, stride: d }, g, scale);
    jsAttentionFlops.total += 2 * product;
    let scoreGrads: Float32Array | undefined;
    return {
      value: tf.tensor2d(out, [rows, d]),
      save: (packed ? { qkv: q } : rotary ? { v: v as tf.Tensor } : { q, k: k as tf.Tensor, v: v as tf.Tensor }) as Saved,
      backward: (dy, saved) => {
        const savedAt = (which: 0 | 1 | 2): Rows =>
          packed ? { values: readView(saved.qkv as tf.Tensor), offset: which * d, stride } : { values: readView(saved[['q', 'k', 'v'][which] as string] as tf.Tensor), offset: 0, stride: d };
        const dOut = (): Rows => ({ values: readView(dy), offset: 0, stride: d });
        const dScores = (): Float32Array => {
          if (!scoreGrads) {
            scoreGrads = attentionScoreGrads(dOut(), savedAt(2), p, g, scale);
            jsAttentionFlops.total += product;
          }
          return scoreGrads;
        };
        // dQ, dK or dV into `target` at `offset`
        const gradient = (which: 0 | 1 | 2, target: Rows): void => {
          if (which === 2) attentionPairProductInto(p, dOut(), target, g, true);
          else {
            const other = which === 0 ? (rk ? { values: rk, offset: 0, stride: d } : savedAt(1)) : rq ? { values: rq, offset: 0, stride: d } : savedAt(0);
            const scores = dScores();
            if (rotary) {
              const unrotated = new Float32Array(rows * d);
              attentionPairProductInto(scores, other, { values: unrotated, offset: 0, stride: d }, g, which === 1);
              rotateRowsInto({ values: unrotated, offset: 0, stride: d }, rows, rotary, g, -1, target);
            } else attentionPairProductInto(scores, other, target, g, which === 1);
          }
          jsAttentionFlops.total += product;
        };
        if (packed) {
          return [
            () => {
              const all = uploadBuffer(rows * 3 * d);
              gradient(0, { values: all, offset: 0, stride: 3 * d });
              if (rotary) {
                gradient(1, { values: all, offset: d, stride: 3 * d });
                gradient(2, { values: all, offset: 2 * d, stride: 3 * d });
              } else {
                // dK = dS^T Q and dV = P^T dO visit the same pairs: one pass
                attentionPairProductsInto(dScores(), savedAt(0), { values: all, offset: d, stride: 3 * d }, p, dOut(), { values: all, offset: 2 * d, stride: 3 * d }, g);
                jsAttentionFlops.total += 2 * product;
              }
              return tf.tensor2d(all, [rows, 3 * d]);
            },
          ];
        }
        return ([0, 1, 2] as const).map((which) => () => {
          const one = uploadBuffer(rows * d);
          gradient(which, { values: one, offset: 0, stride: d });
          return tf.tensor2d(one, [rows, d]);
        });
      },
    };
  });
}

/**
 * causalSelfAttentionJs on the wasm backend with SIMD loops (simd.ts) over the backend's heap:
 * the probabilities, rotated q and k, outputs and gradients are tensors there, written in place;
 * the softmax and the score gradients (a few operations a pair) stay in JS.
 */
function attentionSimd(
  loops: AttentionLoops,
  inputs: tf.Tensor2D[],
  packed: boolean,
  g: Geometry,
  scale: number,
  product: number,
  rotary: { cos: Float32Array; sin: Float32Array } | undefined,
): tf.Tensor2D {
  const { batch, seqLen, heads, hd, lens } = g;
  const d = heads * hd;
  const rows = batch * seqLen;
  const tt = seqLen * seqLen;
  const first = inputs[0] as tf.Tensor2D;
  // byte address and row stride (bytes) of q (0), k (1) or v (2) in the inputs
  const inputAt = (which: number, tensors: readonly tf.Tensor[]): { at: number; stride: number } =>
    packed
      ? { at: addressOf(tensors[0] as tf.Tensor) + which * d * 4, stride: 3 * d * 4 }
      : { at: addressOf(tensors[which] as tf.Tensor), stride: d * 4 };
  /** Rows r >= the sequence's length of a [rows, width] matrix at byte `at`, columns [from, from + d), set to 0. */
  const zeroPadding = (heap: Float32Array, at: number, width: number, from: number): void => {
    for (let b = 0; b < batch; b++)
      for (let r = lens[b] as number; r < seqLen; r++) {
        const o = at / 4 + (b * seqLen + r) * width + from;
        heap.fill(0, o, o + d);
      }
  };
  /** Rows at `from` rotated (sign 1) or rotated back (sign -1) into rows at `to`. */
  const rotateAt = (heap: Float32Array, from: { at: number; stride: number }, to: { at: number; stride: number }, sign: number): void =>
    rotateRowsInto({ values: heap, offset: from.at / 4, stride: from.stride / 4 }, rows, rotary as { cos: Float32Array; sin: Float32Array }, g, sign, { values: heap, offset: to.at / 4, stride: to.stride / 4 });
  return block(inputs, () =>
    withKernels((k) => {
      const pInfo = k.alloc([batch * heads * tt]);
      const outInfo = k.alloc([rows, d]);
      const rq = rotary ? k.alloc([rows, d]) : undefined;
      const rk = rotary ? k.alloc([rows, d]) : undefined;
      // no allocation from here on: addresses and the heap view stay valid
      const heap = heapF32();
      if (rq && rk) {
        rotateAt(heap, inputAt(0, inputs), { at: addressOf(rq), stride: d * 4 }, 1);
        rotateAt(heap, inputAt(1, inputs), { at: addressOf(rk), stride: d * 4 }, 1);
      }
      const qAt = rq ? { at: addressOf(rq), stride: d * 4 } : inputAt(0, inputs);
      const kAt = rk ? { at: addressOf(rk), stride: d * 4 } : inputAt(1, inputs);
      const vAt = inputAt(2, inputs);
      const pAt = addressOf(pInfo);
      const outAt = addressOf(outInfo);
      for (let b = 0; b < batch; b++) {
        const len = lens[b] as number;
        for (let h = 0; h < heads; h++) {
          const pBlock = pAt + (b * heads + h) * tt * 4;
          const col = h * hd * 4;
          loops.scores(qAt.at + b * seqLen * qAt.stride + col, qAt.stride, kAt.at + b * seqLen * kAt.stride + col, kAt.stride, pBlock, seqLen * 4, len, scale);
          const slope = g.slopes ? (g.slopes[h] as number) : 0;
          for (let i = 0; i < len; i++) causalSoftmaxRow(heap, pBlock / 4 + i * seqLen, i, slope);
          loops.pairSum(pBlock, seqLen * 4, vAt.at + b * seqLen * vAt.stride + col, vAt.stride, outAt + b * seqLen * d * 4 + col, d * 4, len);
        }
      }
      zeroPadding(heap, outAt, d, 0);
      jsAttentionFlops.total += 2 * product;
      const save: Saved = { p: k.tensor(pInfo) };
      inputs.forEach((t, i) => (save[`in${i}`] = t));
      if (rq && rk) {
        save.rq = k.tensor(rq);
        save.rk = k.tensor(rk);
      }
      return {
        value: k.tensor<tf.Tensor2D>(outInfo),
        save,
        backward: (dy, saved) => {
          const savedInputs = inputs.map((_, i) => saved[`in${i}`] as tf.Tensor);
          let scoreGrads: Float32Array | undefined;
          /**
           * The gradients of q (0), k (1) and v (2) asked for, each into its target (byte address,
           * row stride in bytes), for every (sequence, head) block.
           */
          const gradients = (wanted: ReadonlyArray<0 | 1 | 2>, targets: Array<{ at: number; stride: number }>, kb: { alloc(shape: number[]): tf.TensorInfo }): void => {
            const needScores = wanted.some((w) => w !== 2);
            const dsInfo = needScores ? kb.alloc([batch * heads * tt]) : undefined;
            // gradients through the rotation land in rotated space first
            const rotatedTargets = wanted.map((w) => (rotary && w !== 2 ? kb.alloc([rows, d]) : undefined));
            const heap = heapF32();
            const pAt = addressOf(saved.p as tf.Tensor);
            const dyAt = { at: addressOf(dy), stride: d * 4 };
            const qAt = saved.rq ? { at: addressOf(saved.rq), stride: d * 4 } : inputAt(0, savedInputs);
            const kAt = saved.rk ? { at: addressOf(saved.rk), stride: d * 4 } : inputAt(1, savedInputs);
            const vAt = inputAt(2, savedInputs);
            const dsAt = dsInfo ? addressOf(dsInfo) : 0;
            const into = wanted.map((w, n) => {
              const r = rotatedTargets[n];
              return r ? { at: addressOf(r), stride: d * 4 } : (targets[n] as { at: number; stride: number });
            });
            for (let b = 0; b < batch; b++) {
              const len = lens[b] as number;
              const rowAt = (x: { at: number; stride: number }, col: number): number => x.at + b * seqLen * x.stride + col;
              for (let h = 0; h < heads; h++) {
                const col = h * hd * 4;
                const block = (b * heads + h) * tt;
                const pBlock = pAt + block * 4;
                const dsBlock = dsAt + block * 4;
                if (needScores) {
                  if (scoreGrads) heap.set(scoreGrads.subarray(block, block + tt), dsBlock / 4);
                  else {
                    // dP = dO V^T, then dS = P (dP - rowsum(dP P)) / sqrt(hd), in place
                    loops.scores(rowAt(dyAt, col), dyAt.stride, rowAt(vAt, col), vAt.stride, dsBlock, seqLen * 4, len, 1);
                    for (let i = 0; i < len; i++) {
                      const row = dsBlock / 4 + i * seqLen;
                      const prow = pBlock / 4 + i * seqLen;
                      let rowDot = 0;
                      for (let j = 0; j <= i; j++) rowDot += (heap[row + j] as number) * (heap[prow + j] as number);
                      for (let j = 0; j <= i; j++) heap[row + j] = (heap[prow + j] as number) * ((heap[row + j] as number) - rowDot) * scale;
                    }
                  }
                }
                wanted.forEach((w, n) => {
                  const target = into[n] as { at: number; stride: number };
                  if (w === 0) loops.pairSum(dsBlock, seqLen * 4, rowAt(kAt, col), kAt.stride, rowAt(target, col), target.stride, len);
                  else if (w === 1) loops.pairSumT(dsBlock, seqLen * 4, rowAt(qAt, col), qAt.stride, rowAt(target, col), target.stride, len);
                  else loops.pairSumT(pBlock, seqLen * 4, rowAt(dyAt, col), dyAt.stride, rowAt(target, col), target.stride, len);
                });
              }
            }
            if (needScores && !scoreGrads) {
              scoreGrads = heap.slice(dsAt / 4, dsAt / 4 + batch * heads * tt);
              jsAttentionFlops.total += product;
            }
            wanted.forEach((w, n) => {
              const target = targets[n] as { at: number; stride: number };
              const r = rotatedTargets[n];
              if (r) rotateAt(heap, { at: addressOf(r), stride: d * 4 }, target, -1);
              zeroPadding(heap, target.at, target.stride / 4, 0);
              jsAttentionFlops.total += product;
            });
          };
          if (packed) {
            return [
              () =>
                withKernels((kb) => {
                  const all = kb.alloc([rows, 3 * d]);
                  const at = addressOf(all);
                  gradients([0, 1, 2], [0, 1, 2].map((w) => ({ at: at + w * d * 4, stride: 3 * d * 4 })), kb);
                  return kb.tensor<tf.Tensor2D>(all);
                }),
            ];
          }
          return ([0, 1, 2] as const).map((which) => () =>
            withKernels((kb) => {
              const one = kb.alloc([rows, d]);
              gradients([which], [{ at: addressOf(one), stride: d * 4 }], kb);
              return kb.tensor<tf.Tensor2D>(one);
            }),
          );
        },
      };
    }),
  );
}

/** rotateRowsInto a new [rows, d] array. */
function rotateRows(x: Rows, rows: number, rotary: { cos: Float32Array; sin: Float32Array }, g: Geometry, sign: number): Float32Array {
  const out = new Float32Array(rows * g.heads * g.hd);
  rotateRowsInto(x, rows, rotary, g, sign, { values: out, offset: 0, stride: g.heads * g.hd });
  return out;
}

/**
 * x cos + rotateHalf(x) sin per head (sign 1), or its inverse (sign -1, the rotation by minus the
 * angle, which is also its transpose): rotateHalf([a, b]) = [-b, a]. Tables [t * hd].
 */
function rotateRowsInto(x: Rows, rows: number, rotary: { cos: Float32Array; sin: Float32Array }, g: Geometry, sign: number, out: Rows): void {
  const { cos, sin } = rotary;
  const { seqLen, heads, hd } = g;
  const half = hd / 2;
  for (let r = 0; r < rows; r++) {
    const t = (r % seqLen) * hd;
    for (let h = 0; h < heads; h++) {
      const xo = x.offset + r * x.stride + h * hd;
      const o = out.offset + r * out.stride + h * hd;
      for (let c = 0; c < half; c++) {
        const a = x.values[xo + c] as number;
        const b = x.values[xo + c + half] as number;
        const cs = cos[t + c] as number;
        const sn = sign * (sin[t + c] as number);
        out.values[o + c] = a * cs - b * sn;
        out.values[o + c + half] = b * cs + a * sn;
      }
    }
  }
}

/** x_i . y_j over `hd` entries from offsets `xo`, `yo`, with four partial sums. */
function dot(x: Float32Array, xo: number, y: Float32Array, yo: number, hd: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let c = 0;
  for (; c + 3 < hd; c += 4) {
    s0 += (x[xo + c] as number) * (y[yo + c] as number);
    s1 += (x[xo + c + 1] as number) * (y[yo + c + 1] as number);
    s2 += (x[xo + c + 2] as number) * (y[yo + c + 2] as number);
    s3 += (x[xo + c + 3] as number) * (y[yo + c + 3] as number);
  }
  for (; c < hd; c++) s0 += (x[xo + c] as number) * (y[yo + c] as number);
  return s0 + s1 + s2 + s3;
}

/**
 * Query i's scores at values[row .. row + i] (keys 0..i) become its attention probabilities, in
 * place: ALiBi's penalty -slope (i - j) first (slope 0: none), then the softmax.
 */
function causalSoftmaxRow(values: Float32Array, row: number, i: number, slope: number): void {
  let max = -Infinity;
  for (let j = 0; j <= i; j++) {
    const score = (values[row + j] as number) - slope * (i - j);
    values[row + j] = score;
    if (score > max) max = score;
  }
  let z = 0;
  for (let j = 0; j <= i; j++) {
    const e = Math.exp((values[row + j] as number) - max);
    values[row + j] = e;
    z += e;
  }
  const inv = 1 / z;
  for (let j = 0; j <= i; j++) values[row + j] = (values[row + j] as number) * inv;
}

/** Scores, softmax over keys <= query, and P V; `p` [batch, heads, t, t] gets the probabilities. */
function attentionForward(q: Rows, k: Rows, v: Rows, p: Float32Array, out: Rows, g: Geometry, scale: number): void {
  const { batch, seqLen, heads, hd, lens } = g;
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let h = 0; h < heads; h++) {
      const col = h * hd;
      const pBase = (b * heads + h) * seqLen * seqLen;
      const slope = g.slopes ? (g.slopes[h] as number) : 0;
      for (let i = 0; i < len; i++) {
        const qo = q.offset + (b * seqLen + i) * q.stride + col;
        const pr = pBase + i * seqLen;
        for (let j = 0; j <= i; j++) p[pr + j] = dot(q.values, qo, k.values, k.offset + (b * seqLen + j) * k.stride + col, hd) * scale;
        causalSoftmaxRow(p, pr, i, slope);
      }
    }
  }
  attentionPairProductInto(p, v, out, g, false);
}

/** dS = P (dP - rowsum(dP P)) * scale with dP = dO V^T, over causal pairs; [batch, heads, t, t]. */
function attentionScoreGrads(dOut: Rows, v: Rows, p: Float32Array, g: Geometry, scale: number): Float32Array {
  const { batch, seqLen, heads, hd, lens } = g;
  const grads = new Float32Array(p.length);
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let h = 0; h < heads; h++) {
      const col = h * hd;
      const pBase = (b * heads + h) * seqLen * seqLen;
      for (let i = 0; i < len; i++) {
        const oo = dOut.offset + (b * seqLen + i) * dOut.stride + col;
        const pr = pBase + i * seqLen;
        let rowDot = 0;
        for (let j = 0; j <= i; j++) {
          const dp = dot(dOut.values, oo, v.values, v.offset + (b * seqLen + j) * v.stride + col, hd);
          grads[pr + j] = dp;
          rowDot += dp * (p[pr + j] as number);
        }
        for (let j = 0; j <= i; j++) grads[pr + j] = (p[pr + j] as number) * ((grads[pr + j] as number) - rowDot) * scale;
      }
    }
  }
  return grads;
}

/**
 * Over causal pairs (i, j <= i) of real queries with weights w [batch, heads, t, t]:
 * out_i = sum_j w_ij x_j, or with `transposed` out_j = sum_i w_ij x_i, each output row at a time
 * with four columns in registers; rows at or past a sequence's length get 0.
 */
function attentionPairProductInto(w: Float32Array, x: Rows, out: Rows, g: Geometry, transposed: boolean): void {
  const { batch, seqLen, heads, hd, lens } = g;
  const d = heads * hd;
  const xs = x.values;
  const os = out.values;
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let r = len; r < seqLen; r++) os.fill(0, out.offset + (b * seqLen + r) * out.stride, out.offset + (b * seqLen + r) * out.stride + d);
    for (let h = 0; h < heads; h++) {
      const col = h * hd;
      const wBase = (b * heads + h) * seqLen * seqLen;
      for (let r = 0; r < len; r++) {
        const ro = out.offset + (b * seqLen + r) * out.stride + col;
        // pairs of output row r: (r, j <= r) read row r of w; transposed, (i >= r, r) read column r
        const from = transposed ? r : 0;
        const to = transposed ? len - 1 : r;
        const wStart = transposed ? wBase + r * seqLen + r : wBase + r * seqLen;
        const wStep = transposed ? seqLen : 1;
        const xBase = x.offset + b * seqLen * x.stride + col;
        let c = 0;
        for (; c + 3 < hd; c += 4) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          for (let m = from, wi = wStart; m <= to; m++, wi += wStep) {
            const wm = w[wi] as number;
            const o = xBase + m * x.stride + c;
            a0 += wm * (xs[o] as number);
            a1 += wm * (xs[o + 1] as number);
            a2 += wm * (xs[o + 2] as number);
            a3 += wm * (xs[o + 3] as number);
          }
          os[ro + c] = a0;
          os[ro + c + 1] = a1;
          os[ro + c + 2] = a2;
          os[ro + c + 3] = a3;
        }
        for (; c < hd; c++) {
          let a = 0;
          for (let m = from, wi = wStart; m <= to; m++, wi += wStep) a += (w[wi] as number) * (xs[xBase + m * x.stride + c] as number);
          os[ro + c] = a;
        }
      }
    }
  }
}

/** attentionPairProductInto transposed for two weight/input pairs over the same pairs in one pass:
 * out1_j = sum_i w1_ij x1_i and out2_j = sum_i w2_ij x2_i. */
function attentionPairProductsInto(w1: Float32Array, x1: Rows, out1: Rows, w2: Float32Array, x2: Rows, out2: Rows, g: Geometry): void {
  const { batch, seqLen, heads, hd, lens } = g;
  const d = heads * hd;
  const x1s = x1.values;
  const x2s = x2.values;
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let r = len; r < seqLen; r++) {
      out1.values.fill(0, out1.offset + (b * seqLen + r) * out1.stride, out1.offset + (b * seqLen + r) * out1.stride + d);
      out2.values.fill(0, out2.offset + (b * seqLen + r) * out2.stride, out2.offset + (b * seqLen + r) * out2.stride + d);
    }
    for (let h = 0; h < heads; h++) {
      const col = h * hd;
      const wBase = (b * heads + h) * seqLen * seqLen;
      const x1Base = x1.offset + b * seqLen * x1.stride + col;
      const x2Base = x2.offset + b * seqLen * x2.stride + col;
      for (let r = 0; r < len; r++) {
        const o1 = out1.offset + (b * seqLen + r) * out1.stride + col;
        const o2 = out2.offset + (b * seqLen + r) * out2.stride + col;
        const wStart = wBase + r * seqLen + r;
        let c = 0;
        for (; c + 3 < hd; c += 4) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          let b0 = 0;
          let b1 = 0;
          let b2 = 0;
          let b3 = 0;
          for (let m = r, wi = wStart; m < len; m++, wi += seqLen) {
            const u = w1[wi] as number;
            const v = w2[wi] as number;
            const i1 = x1Base + m * x1.stride + c;
            const i2 = x2Base + m * x2.stride + c;
            a0 += u * (x1s[i1] as number);
            a1 += u * (x1s[i1 + 1] as number);
            a2 += u * (x1s[i1 + 2] as number);
            a3 += u * (x1s[i1 + 3] as number);
            b0 += v * (x2s[i2] as number);
            b1 += v * (x2s[i2 + 1] as number);
            b2 += v * (x2s[i2 + 2] as number);
            b3 += v * (x2s[i2 + 3] as number);
          }
          out1.values[o1 + c] = a0;
          out1.values[o1 + c + 1] = a1;
          out1.values[o1 + c + 2] = a2;
          out1.values[o1 + c + 3] = a3;
          out2.values[o2 + c] = b0;
          out2.values[o2 + c + 1] = b1;
          out2.values[o2 + c + 2] = b2;
          out2.values[o2 + c + 3] = b3;
        }
        for (; c < hd; c++) {
          let a = 0;
          let bb = 0;
          for (let m = r, wi = wStart; m < len; m++, wi += seqLen) {
            a += (w1[wi] as number) * (x1s[x1Base + m * x1.stride + c] as number);
            bb += (w2[wi] as number) * (x2s[x2Base + m * x2.stride + c] as number);
          }
          out1.values[o1 + c] = a;
          out2.values[o2 + c] = bb;
        }
      }
    }
  }
}
