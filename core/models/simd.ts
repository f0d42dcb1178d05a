/**
 * WebAssembly SIMD loops for the blocks of layers.ts on the wasm backend, working in place on
 * the backend's own heap: attention's pair loops and LayerNorm/RMSNorm rows (elementwise loops: simd-elementwise.ts).
 *
 * At the shipped sizes (width 64 to 96, head size 24 to 32, sequences of a few to 64 tokens) a
 * training step's elementwise work and attention are small enough that the cost is the number
 * of kernel dispatches (each an allocation and a JS wrapper) and the scalar JS loops, about one
 * multiply-add a nanosecond. These loops do the same arithmetic four lanes at a time in one call:
 * a module is built at run time (a few hundred bytes, emitted below, no toolchain) per width or
 * head size, fully unrolled over it, importing the tfjs wasm backend's memory so that tensors are
 * read and written where the backend keeps them (addresses from addressOf).
 *
 * Attention: each call covers one (sequence, head) block of `len` real positions, over the
 * causal pairs (key j <= query i) only:
 *   scores:     w[i, j] = scale * x_i . y_j                      (Q K^T, dO V^T)
 *   pairSum:    out_i = sum_{j <= i} w[i, j] y_j                  (P V, dS K)
 *   pairSumT:   out_j = sum_{i >= j} w[i, j] y_i                  (P^T dO, dS^T Q)
 *   pairSumTAdd: out_j += sum_{i >= j} w[i, j] y_i                 (the same, summed over a group)
 *   softmax:    w[i, j] = exp(w[i, j] - max) / sum over j <= i     (the causal softmax, in place)
 * Row i of x, y and out starts at base + i * stride (bytes); w rows are `wStride` bytes apart.
 * Norms and activations: one call for all rows, forward and backward as in layers.ts layerNorm,
 * rmsNorm, gelu and swiglu; exp (for the sigmoids) is Cephes's single-precision polynomial.
 * Sums are kept in float32 lanes, in another order than tfjs's kernels or the scalar loops (which
 * keep float64), so results differ from them in the last bits.
 */
import * as tf from '@tensorflow/tfjs';
import { Code, F32, I32, moduleBytes, V128, wasmGlobal } from '../wasm/emit.js';

/** The loops of attentionModule, on byte addresses in the wasm backend's heap. */
export interface AttentionLoops {
  scores(x: number, xStride: number, y: number, yStride: number, w: number, wStride: number, len: number, scale: number): void;
  pairSum(w: number, wStride: number, y: number, yStride: number, out: number, outStride: number, len: number): void;
  pairSumT(w: number, wStride: number, y: number, yStride: number, out: number, outStride: number, len: number): void;
  /** pairSumT added to what `out` holds (grouped-query attention's dK and dV over a group). */
  pairSumTAdd(w: number, wStride: number, y: number, yStride: number, out: number, outStride: number, len: number): void;
  /** Each row i < len of w (rows wStride bytes apart, a multiple of 16) becomes the softmax of
   * its entries j <= i; up to 3 entries past i are overwritten. */
  softmax(w: number, wStride: number, len: number): void;
}

/** The loops of normModule: LayerNorm (centred) or RMSNorm rows of a fixed width. */
export interface NormLoops {
  /** xhat, out = xhat gain (+ bias), rstd per row; `bias` 0 for none. */
  forward(x: number, out: number, xhat: number, rstd: number, gain: number, bias: number, rows: number, eps: number): void;
  /** dx = (g - mean(g) - xhat mean(g xhat)) rstd, g = dy gain (no mean(g) term for RMSNorm). */
  backward(dy: number, gain: number, xhat: number, rstd: number, dx: number, rows: number): void;
}

interface WasmBackendInternals {
  wasm: {
    asm: { memory: object };
    HEAPF32: Float32Array;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

function wasmBackend(): WasmBackendInternals | undefined {
  if (tf.getBackend() !== 'wasm' || !wasmGlobal) return undefined;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  return backend.wasm?.asm?.memory instanceof wasmGlobal.Memory ? backend : undefined;
}

/** The wasm backend's heap as floats; fetch it anew after any allocation (the heap may grow). */
export function heapF32(): Float32Array {
  const backend = wasmBackend();
  if (!backend) throw new Error('simd: not on the wasm backend');
  return backend.wasm.HEAPF32;
}

/** Byte address of a tensor's data in the wasm backend's heap. */
export function addressOf(t: tf.TensorInfo): number {
  const data = wasmBackend()?.dataIdMap.get(t.dataId);
  if (!data) throw new Error('simd: tensor data not on the wasm backend');
  return data.memoryOffset;
}

/** Built modules' exports by key, with the memory they import (null: could not be built). */
const cache = new Map<string, { memory: object; exports: object | null }>();

/** Whether the loops are used where they apply (off: the kernel versions, for comparisons). */
export const simdLoops = { enabled: true };

export function instantiate<T>(key: string, build: () => Uint8Array): T | undefined {
  if (!simdLoops.enabled) return undefined;
  const backend = wasmBackend();
  if (!backend || !wasmGlobal) return undefined;
  const memory = backend.wasm.asm.memory;
  // a new wasm backend has a new memory
  const cached = cache.get(key);
  if (cached && cached.memory === memory) return (cached.exports as T | null) ?? undefined;
  let exports: object | null = null;
  try {
    exports = new wasmGlobal.Instance(new wasmGlobal.Module(build()), { env: { memory } }).exports;
  } catch {
    exports = null;
  }
  cache.set(key, { memory, exports });
  return (exports as T | null) ?? undefined;
}

/** The attention loops for head size `hd` on the active backend, or undefined where they do not
 * apply (not the wasm backend, hd not a multiple of 4, no SIMD in this runtime). */
export function attentionLoops(hd: number): AttentionLoops | undefined {
  if (hd % 4 !== 0 || hd <= 0) return undefined;
  return instantiate<AttentionLoops>(`attention/${hd}`, () => attentionModule(hd / 4));
}

/** LayerNorm (`centred`) or RMSNorm loops for rows of width `d`, as attentionLoops. */
export function normLoops(d: number, centred: boolean): NormLoops | undefined {
  if (d % 4 !== 0 || d <= 0) return undefined;
  return instantiate<NormLoops>(`norm/${d}/${centred}`, () => normModule(d / 4, centred));
}

/**
 * The four loops for a head of `lanes` * 4 columns. Params are (in order) as in AttentionLoops;
 * locals after them.
 */
function attentionModule(lanes: number): Uint8Array {
  // scores(x, xStride, y, yStride, w, wStride, len, scale): w[i, j] = scale x_i . y_j, two
  // accumulators of four lanes
  const scores = new Code();
  {
    const [x, xStride, y, yStride, w, wStride, len, scale] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [i, j, jEnd, yj, wij, acc0, acc1] = [8, 9, 10, 11, 12, 13, 14];
    scores.i32(0).set(i);
    scores.loopUntil(i, len, (c) => {
      c.i32(0).set(j);
      c.get(i).i32(1).add().set(jEnd);
      c.get(y).set(yj);
      c.get(w).set(wij);
      c.loopUntil(j, jEnd, (d) => {
        d.v128Zero().set(acc0).v128Zero().set(acc1);
        for (let l = 0; l < lanes; l++) {
          const acc = l % 2 === 0 ? acc0 : acc1;
          d.get(acc)
            .get(x)
            .v128Load(l * 16)
            .get(yj)
            .v128Load(l * 16)
            .f32x4Mul()
            .f32x4Add()
            .set(acc);
        }
        // w[i, j] = scale * (sum of the lanes)
        d.get(wij);
        d.get(acc0).get(acc1).f32x4Add().set(acc0);
        d.get(acc0).f32x4Lane(0).get(acc0).f32x4Lane(1).f32Add().get(acc0).f32x4Lane(2).get(acc0).f32x4Lane(3).f32Add().f32Add();
        d.get(scale).f32Mul().f32Store();
        d.incBy(yj, yStride).incConst(wij, 4);
      });
      c.incBy(x, xStride).incBy(w, wStride);
    });
  }
  // pairSum(w, wStride, y, yStride, out, outStride, len): out_i = sum_{j <= i} w[i, j] y_j
  const pairSum = new Code();
  {
    const [w, wStride, y, yStride, out, outStride, len] = [0, 1, 2, 3, 4, 5, 6];
    const [i, j, jEnd, yj, wij, s] = [7, 8, 9, 10, 11, 12];
    const acc = 13; // lanes of them
    pairSum.i32(0).set(i);
    pairSum.loopUntil(i, len, (c) => {
      for (let l = 0; l < lanes; l++) c.v128Zero().set(acc + l);
      c.i32(0).set(j);
      c.get(i).i32(1).add().set(jEnd);
      c.get(y).set(yj);
      c.get(w).set(wij);
      c.loopUntil(j, jEnd, (d) => {
        d.get(wij).f32Load().f32x4Splat().set(s);
        for (let l = 0; l < lanes; l++)
          d.get(acc + l)
            .get(s)
            .get(yj)
            .v128Load(l * 16)
            .f32x4Mul()
            .f32x4Add()
            .set(acc + l);
        d.incBy(yj, yStride).incConst(wij, 4);
      });
      for (let l = 0; l < lanes; l++)
        c.get(out)
          .get(acc + l)
          .v128Store(l * 16);
      c.incBy(out, outStride).incBy(w, wStride);
    });
  }
  const pairSumT = pairSumTCode(lanes, false);
  const pairSumTAdd = pairSumTCode(lanes, true);
  const softmax = softmaxCode();
  return moduleBytes([
    { name: 'scores', params: [I32, I32, I32, I32, I32, I32, I32, F32], locals: [I32, I32, I32, I32, I32, V128, V128], code: scores },
    {
      name: 'pairSum',
      params: [I32, I32, I32, I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, I32, V128, ...new Array<number>(lanes).fill(V128)],
      code: pairSum,
    },
    {
      name: 'pairSumT',
      params: [I32, I32, I32, I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, V128, ...new Array<number>(lanes).fill(V128)],
      code: pairSumT,
    },
    {
      name: 'pairSumTAdd',
      params: [I32, I32, I32, I32, I32, I32, I32],
      locals: [I32, I32, I32, I32, V128, ...new Array<number>(lanes).fill(V128)],
      code: pairSumTAdd,
    },
    { name: 'softmax', params: [I32, I32, I32], locals: [I32, I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, F32], code: softmax },
  ]);
}

/**
 * softmax(w, wStride, len): row i's entries j <= i (i + 1 of them, taken 4 lanes at a time; lanes
 * past i are left out of the max and the sum by a mask) become exp(w - max) / sum, with Cephes's
 * exp (f32x4Exp) and float32 sums.
 */
function softmaxCode(): Code {
  const code = new Code();
  const [w, wStride, len] = [0, 1, 2];
  const [i, chunk, chunks, at, n] = [3, 4, 5, 6, 7];
  const [maxv, sumv, idx, nv, t0, t1, x] = [8, 9, 10, 11, 12, 13, 14];
  const inv = 15;
  const laneIds = (c: Code): Code => c.op(0xfd, 0x0c, ...new Uint8Array(Int32Array.of(0, 1, 2, 3).buffer));
  const four = (c: Code): Code => c.op(0xfd, 0x0c, ...new Uint8Array(Int32Array.of(4, 4, 4, 4).buffer));
  // lanes j < n keep the v128 on the stack, the others take `other`
  const masked = (c: Code, other: number): Code => c.f32x4Const(other).get(idx).get(nv).simd(0x39 /* i32x4.lt_s */).simd(0x52 /* v128.bitselect */);
  // for every 4-lane group of row i: body, then the next group
  const groups = (c: Code, body: (g: Code) => void): void => {
    c.i32(0).set(chunk);
    c.get(w).set(at);
    laneIds(c).set(idx);
    c.loopUntil(chunk, chunks, (g) => {
      body(g);
      g.incConst(at, 16);
      g.get(idx);
      four(g).i32x4Add().set(idx);
    });
  };
  code.i32(0).set(i);
  code.loopUntil(i, len, (c) => {
    c.get(i).i32(1).add().tee(n).i32(3).add().i32(2).op(0x76 /* i32.shr_u */).set(chunks);
    c.get(n).simd(0x11 /* i32x4.splat */).set(nv);
    c.f32x4Const(-Infinity).set(maxv);
    groups(c, (g) => masked(g.get(maxv).get(at).v128Load(), -Infinity).f32x4Max().set(maxv));
    // the largest lane, to every lane
    c.get(maxv).f32x4Lane(0).get(maxv).f32x4Lane(1).op(0x97).get(maxv).f32x4Lane(2).op(0x97).get(maxv).f32x4Lane(3).op(0x97).f32x4Splat().set(maxv);
    c.v128Zero().set(sumv);
    groups(c, (g) => {
      masked(g.get(at).v128Load().get(maxv).f32x4Sub().f32x4Exp(t0, t1), 0).set(x);
      g.get(at).get(x).v128Store();
      g.get(sumv).get(x).f32x4Add().set(sumv);
    });
    c.f32Const(1).get(sumv).hsum(x).f32Div().set(inv);
    c.get(inv).f32x4Splat().set(x);
    groups(c, (g) => g.get(at).get(at).v128Load().get(x).f32x4Mul().v128Store());
    c.incBy(w, wStride);
  });
  return code;
}

/**
 * pairSumT(w, wStride, y, yStride, out, outStride, len): out_j = sum_{i >= j} w[i, j] y_i, or with
 * `add` out_j += that sum.
 */
function pairSumTCode(lanes: number, add: boolean): Code {
  const code = new Code();
  const [w, wStride, y, yStride, out, outStride, len] = [0, 1, 2, 3, 4, 5, 6];
  const [j, i, yi, wij, s] = [7, 8, 9, 10, 11];
  const acc = 12;
  code.i32(0).set(j);
  code.loopUntil(j, len, (c) => {
    for (let l = 0; l < lanes; l++) c.v128Zero().set(acc + l);
    c.get(j).set(i);
    // y_i from i = j; w[i, j] from row j, column j
    c.get(y).get(j).get(yStride).mul().add().set(yi);
    c.get(w).get(j).get(wStride).mul().add().get(j).i32(4).mul().add().set(wij);
    c.loopUntil(i, len, (d) => {
      d.get(wij).f32Load().f32x4Splat().set(s);
      for (let l = 0; l < lanes; l++)
        d.get(acc + l)
          .get(s)
          .get(yi)
          .v128Load(l * 16)
          .f32x4Mul()
          .f32x4Add()
          .set(acc + l);
      d.incBy(yi, yStride).incBy(wij, wStride);
    });
    for (let l = 0; l < lanes; l++) {
      if (add)
        c.get(out)
          .get(out)
          .v128Load(l * 16)
          .get(acc + l)
          .f32x4Add()
          .v128Store(l * 16);
      else
        c.get(out)
          .get(acc + l)
          .v128Store(l * 16);
    }
    c.incBy(out, outStride);
  });
  return code;
}

/**
 * LayerNorm (`centred`, with bias) or RMSNorm (no bias) over rows of `lanes` * 4 floats, each row
 * held in locals. forward(x, out, xhat, rstd, gain, bias, rows, eps);
 * backward(dy, gain, xhat, rstd, dx, rows).
 */
function normModule(lanes: number, centred: boolean): Uint8Array {
  const invD = 1 / (lanes * 4);
  const rowBytes = lanes * 16;
  const forward = new Code();
  {
    const [x, out, xhat, rstd, gain, bias, rows, eps] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [r, t, v, sum] = [8, 9, 10, 11];
    const xs = 12;
    forward.i32(0).set(r);
    forward.loopUntil(r, rows, (c) => {
      for (let l = 0; l < lanes; l++)
        c.get(x)
          .v128Load(l * 16)
          .set(xs + l);
      if (centred) {
        c.get(xs);
        for (let l = 1; l < lanes; l++) c.get(xs + l).f32x4Add();
        c.hsum(sum).f32Const(invD).f32Mul().f32x4Splat().set(v);
        for (let l = 0; l < lanes; l++)
          c.get(xs + l)
            .get(v)
            .f32x4Sub()
            .set(xs + l);
      }
      c.get(xs).get(xs).f32x4Mul();
      for (let l = 1; l < lanes; l++)
        c.get(xs + l)
          .get(xs + l)
          .f32x4Mul()
          .f32x4Add();
      // rstd = 1 / sqrt(mean of squares + eps)
      c.hsum(sum).f32Const(invD).f32Mul().get(eps).f32Add().f32Sqrt().set(t);
      c.get(rstd).f32Const(1).get(t).f32Div().set(t).get(t).f32Store();
      c.get(t).f32x4Splat().set(v);
      for (let l = 0; l < lanes; l++) {
        c.get(xs + l)
          .get(v)
          .f32x4Mul()
          .set(xs + l);
        c.get(xhat)
          .get(xs + l)
          .v128Store(l * 16);
        c.get(out)
          .get(xs + l)
          .get(gain)
          .v128Load(l * 16)
          .f32x4Mul();
        if (centred)
          c.get(bias)
            .v128Load(l * 16)
            .f32x4Add();
        c.v128Store(l * 16);
      }
      c.get(x).i32(rowBytes).add().set(x);
      c.get(out).i32(rowBytes).add().set(out);
      c.get(xhat).i32(rowBytes).add().set(xhat);
      c.incConst(rstd, 4);
    });
  }
  const backward = new Code();
  {
    const [dy, gain, xhat, rstd, dx, rows] = [0, 1, 2, 3, 4, 5];
    const [r, meanG, meanGx, sum] = [6, 7, 8, 9];
    const gs = 10;
    backward.i32(0).set(r);
    backward.loopUntil(r, rows, (c) => {
      for (let l = 0; l < lanes; l++)
        c.get(dy)
          .v128Load(l * 16)
          .get(gain)
          .v128Load(l * 16)
          .f32x4Mul()
          .set(gs + l);
      if (centred) {
        c.get(gs);
        for (let l = 1; l < lanes; l++) c.get(gs + l).f32x4Add();
        c.hsum(sum).f32Const(invD).f32Mul().f32x4Splat().set(meanG);
      }
      c.get(gs).get(xhat).v128Load(0).f32x4Mul();
      for (let l = 1; l < lanes; l++)
        c.get(gs + l)
          .get(xhat)
          .v128Load(l * 16)
          .f32x4Mul()
          .f32x4Add();
      c.hsum(sum).f32Const(invD).f32Mul().f32x4Splat().set(meanGx);
      c.get(rstd).f32Load().f32x4Splat().set(sum);
      for (let l = 0; l < lanes; l++) {
        c.get(dx).get(gs + l);
        if (centred) c.get(meanG).f32x4Sub();
        c.get(xhat)
          .v128Load(l * 16)
          .get(meanGx)
          .f32x4Mul()
          .f32x4Sub()
          .get(sum)
          .f32x4Mul()
          .v128Store(l * 16);
      }
      c.get(dy).i32(rowBytes).add().set(dy);
      c.get(xhat).i32(rowBytes).add().set(xhat);
      c.get(dx).i32(rowBytes).add().set(dx);
      c.incConst(rstd, 4);
    });
  }
  const v128s = (n: number): number[] => new Array<number>(n).fill(V128);
  return moduleBytes([
    { name: 'forward', params: [I32, I32, I32, I32, I32, I32, I32, F32], locals: [I32, F32, V128, V128, ...v128s(lanes)], code: forward },
    { name: 'backward', params: [I32, I32, I32, I32, I32, I32], locals: [I32, V128, V128, V128, ...v128s(lanes)], code: backward },
  ]);
}
