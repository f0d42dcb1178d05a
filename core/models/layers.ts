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
 *   the wasm backend (simd.ts). The tape node is block.ts; attention lives in attention.ts (tfjs
 *   block, masks, rotary tables), attention-kernel.ts and attention-loops.ts, the norms and
 *   activations in norms.ts; all are re-exported here.
 * - The embedding lookup has its own gradient: wasm has no UnsortedSegmentSum kernel, so
 *   `tf.gather` cannot be differentiated there.
 *
 * Activations are row-major `[rows, features]` with rows = batch * time.
 */
import * as tf from '@tensorflow/tfjs';
import { block, type Saved } from './block.js';
import { alias, readView, uploadBuffer, withKernels } from '../tensor/kernels.js';
import { dropoutMask, dropPositions } from './lora.js';
import { addressOf, heapF32 } from './simd.js';
import { activationLoops } from './simd-elementwise.js';

export * from './attention.js';
export { causalSelfAttentionJs } from './attention-kernel.js';
export { gelu, layerNorm, rmsNorm, swiglu } from './norms.js';

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
  /** W_q | W_k | W_v side by side, [in, out_q + out_k + out_v], frozen (out_k = out_v < out_q
   * under grouped-query attention). */
  w: tf.Tensor2D;
  /** Its transpose. */
  wT: () => tf.Tensor2D;
  /** b_q | b_k | b_v. */
  bias?: tf.Tensor1D | undefined;
  lora?: QkvLora | undefined;
}

/**
 * The q, k and v projections of one input under frozen base weights, as one block with output
 * q | k | v side by side ([rows, out_q + out_k + out_v]): what three `dense` calls give, the same dropout masks
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
      // each projection's width and first column in q | k | v
      const outs = lora.b.map((t) => t.shape[1]);
      const cols = [0, outs[0] as number, (outs[0] as number) + (outs[1] as number)];
      if ((cols[2] as number) + (outs[2] as number) !== out3)
        throw new Error(`qkvDense: adapter widths ${outs.join(' + ')} do not make the ${out3} output columns`);
      const keep = lora.dropout ? lora.scale / (1 - lora.dropout.rate) : lora.scale;
      // keep * A_j and B_j as JS copies (views do not outlive an allocation)
      const a = lora.a.map((t) => scaledCopy(readView(t), keep));
      const b = lora.b.map((t) => readView(t).slice());
      const drops = lora.dropout ? lora.dropout.seeds.map((seed) => dropPositions(rows * inDim, (lora.dropout as { rate: number }).rate, seed)) : undefined;
      // u = keep (x A_j - the dropped inputs' contributions), for all three side by side
      const aCat = uploadBuffer(inDim * r3);
      for (let j = 0; j < 3; j++)
        for (let c = 0; c < inDim; c++) for (let t = 0; t < r; t++) aCat[c * r3 + j * r + t] = (a[j] as Float32Array)[c * r + t] as number;
      const u = k.edit(k.matMul(x, k.upload(aCat, [inDim, r3])), (uv) => {
        if (drops) subtractDropped(uv, r3, r, drops, inDim, readView(x), a, 'rows');
      });
      const bDiag = uploadBuffer(r3 * out3).fill(0);
      for (let j = 0; j < 3; j++) {
        const out = outs[j] as number;
        for (let t = 0; t < r; t++) bDiag.set((b[j] as Float32Array).subarray(t * out, (t + 1) * out), (j * r + t) * out3 + (cols[j] as number));
      }
      const value = k.add(base, k.matMul(u, k.upload(bDiag, [r3, out3])));
      return {
        value: k.tensor<tf.Tensor2D>(value),
        save: { x, u: k.tensor(u) },
        backward: (dyIn, s) => {
          const dy = dyIn as tf.Tensor2D;
          // dU = dy diag(B)^T, shared by the x and A gradients
          const bDiagT = uploadBuffer(out3 * r3).fill(0);
          for (let j = 0; j < 3; j++) {
            const out = outs[j] as number;
            for (let t = 0; t < r; t++)
              for (let o = 0; o < out; o++) bDiagT[((cols[j] as number) + o) * r3 + j * r + t] = (b[j] as Float32Array)[t * out + o] as number;
          }
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
                const out = outs[j] as number;
                const g = new Float32Array(r * out);
                for (let t = 0; t < r; t++) for (let o = 0; o < out; o++) g[t * out + o] = mt[((cols[j] as number) + o) * r3 + j * r + t] as number;
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
                for (let j = 0; j < 3; j++)
                  for (let t = 0; t < r; t++) for (let c = 0; c < inDim; c++) aCatT[(j * r + t) * inDim + c] = (a[j] as Float32Array)[c * r + t] as number;
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
              const shape = n % 2 === 0 ? [inDim, r] : [r, outs[(n - 1) / 2] as number];
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
function subtractDropped(
  y: Float32Array,
  r3: number,
  r: number,
  drops: readonly Int32Array[],
  inDim: number,
  x: Float32Array,
  w: readonly Float32Array[],
  mode: 'rows' | 'columns',
): void {
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
