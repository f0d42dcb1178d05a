/**
 * LayerNorm, RMSNorm, GELU and SwiGLU as blocks of layers.ts (one tape node each, hand-written
 * gradients), their loops in WebAssembly SIMD on the wasm backend (simd.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { block } from './block.js';
import { withKernels } from '../tensor/kernels.js';
import { addressOf, normLoops, type NormLoops } from './simd.js';
import { activationLoops } from './simd-elementwise.js';

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
                loops.swigluGate(
                  addressOf(dy),
                  addressOf(saved.gate as tf.Tensor),
                  addressOf(saved.up as tf.Tensor),
                  addressOf(saved.s as tf.Tensor),
                  addressOf(dg),
                  n,
                );
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
