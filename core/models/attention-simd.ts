import type * as tf from '@tensorflow/tfjs';
import { type KernelScope, withKernels } from '../tensor/kernels.js';
import { jsAttentionFlops } from './attention.js';
import { causalSoftmaxRow, type Geometry, rotateRowsInto } from './attention-loops.js';
import { type BlockForward, block, type Saved } from './block.js';
import { type AttentionLoops, addressOf, heapF32 } from './simd.js';

/**
 * Where q (0), k (1) and v (2) sit in a JS attention call: their widths (queries heads * hd, keys
 * and values kvHeads * hd), and their column offsets when packed side by side (q | k | v).
 */
export interface QkvLayout {
  width: readonly [number, number, number];
  offset: readonly [number, number, number];
  /** Width of the packed rows. */
  packed: number;
  /** Heads of each: query heads for q, key/value heads for k and v. */
  heads: readonly [number, number, number];
}

/** Byte address and row stride (bytes) of rows on the backend's heap. */
interface Place {
  at: number;
  stride: number;
}

type Which = 0 | 1 | 2;

/** What one SIMD attention call needs besides its tensors. */
export interface SimdAttentionCall {
  loops: AttentionLoops;
  packed: boolean;
  g: Geometry;
  layout: QkvLayout;
  scale: number;
  /** FLOPs of one of the call's pair products (for jsAttentionFlops). */
  product: number;
  rotary: { cos: Float32Array; sin: Float32Array } | undefined;
}

/**
 * causalSelfAttentionJs on the wasm backend with SIMD loops (simd.ts) over the backend's heap:
 * the probabilities, rotated q and k, outputs and gradients are tensors there, written in place;
 * the causal softmax runs there too (in JS with ALiBi's penalties), the score gradients (a few
 * operations a pair) in JS. Of the query heads sharing a key/value head, the first writes its dK
 * and dV share and the others add theirs.
 */
export function attentionSimd(call: SimdAttentionCall, inputs: tf.Tensor2D[]): tf.Tensor2D {
  const attention = new SimdAttention(call);
  return block(inputs, () => withKernels((k) => attention.forward(k, inputs)));
}

class SimdAttention {
  private readonly rows: number;
  // probability rows padded to whole groups of 4 lanes: the softmax loop may write up to 3
  // lanes past key i, into the row's own unused (non-causal) part
  private readonly rowStride: number;
  /** Floats of one (sequence, head) block of probabilities. */
  private readonly tt: number;

  constructor(private readonly c: SimdAttentionCall) {
    this.rows = c.g.batch * c.g.seqLen;
    this.rowStride = (c.g.seqLen + 3) & ~3;
    this.tt = c.g.seqLen * this.rowStride;
  }

  /** Where q (0), k (1) or v (2) sit in the call's input tensors. */
  private inputAt(which: Which, tensors: readonly tf.Tensor[]): Place {
    const { layout } = this.c;
    return this.c.packed
      ? { at: addressOf(tensors[0] as tf.Tensor) + layout.offset[which] * 4, stride: layout.packed * 4 }
      : { at: addressOf(tensors[which] as tf.Tensor), stride: layout.width[which] * 4 };
  }

  /** Rows r >= the sequence's length of the q (0), k (1) or v (2) rows at `x` set to 0. */
  private zeroPadding(heap: Float32Array, x: Place, which: Which): void {
    const { batch, seqLen, lens } = this.c.g;
    for (let b = 0; b < batch; b++)
      for (let r = lens[b] as number; r < seqLen; r++) {
        const o = (x.at + (b * seqLen + r) * x.stride) / 4;
        heap.fill(0, o, o + this.c.layout.width[which]);
      }
  }

  /** The q (0) or k (1) rows at `from` rotated (sign 1) or rotated back (sign -1) into rows at `to`. */
  private rotateAt(heap: Float32Array, which: 0 | 1, from: Place, to: Place, sign: number): void {
    const rotary = this.c.rotary as { cos: Float32Array; sin: Float32Array };
    const source = { values: heap, offset: from.at / 4, stride: from.stride / 4 };
    rotateRowsInto(source, this.rows, this.c.layout.heads[which], rotary, this.c.g, sign, { values: heap, offset: to.at / 4, stride: to.stride / 4 });
  }

  forward(k: KernelScope, inputs: tf.Tensor2D[]): BlockForward<tf.Tensor2D> {
    const { loops, g, layout, scale, rotary } = this.c;
    const { batch, seqLen, heads, group, hd, lens } = g;
    const [d, dkv] = layout.width;
    const { rows, rowStride, tt } = this;
    const pInfo = k.alloc([batch * heads * tt]);
    const outInfo = k.alloc([rows, d]);
    const rq = rotary ? k.alloc([rows, d]) : undefined;
    const rk = rotary ? k.alloc([rows, dkv]) : undefined;
    // no allocation from here on: addresses and the heap view stay valid
    const heap = heapF32();
    if (rq && rk) {
      this.rotateAt(heap, 0, this.inputAt(0, inputs), { at: addressOf(rq), stride: d * 4 }, 1);
      this.rotateAt(heap, 1, this.inputAt(1, inputs), { at: addressOf(rk), stride: dkv * 4 }, 1);
    }
    const qAt = rq ? { at: addressOf(rq), stride: d * 4 } : this.inputAt(0, inputs);
    const kAt = rk ? { at: addressOf(rk), stride: dkv * 4 } : this.inputAt(1, inputs);
    const vAt = this.inputAt(2, inputs);
    const pAt = addressOf(pInfo);
    const outAt = addressOf(outInfo);
    for (let b = 0; b < batch; b++) {
      const len = lens[b] as number;
      for (let h = 0; h < heads; h++) {
        const pBlock = pAt + (b * heads + h) * tt * 4;
        const col = h * hd * 4;
        const kvCol = ((h / group) | 0) * hd * 4;
        loops.scores(
          qAt.at + b * seqLen * qAt.stride + col,
          qAt.stride,
          kAt.at + b * seqLen * kAt.stride + kvCol,
          kAt.stride,
          pBlock,
          rowStride * 4,
          len,
          scale,
        );
        const slope = g.slopes ? (g.slopes[h] as number) : 0;
        if (slope === 0) loops.softmax(pBlock, rowStride * 4, len);
        else for (let i = 0; i < len; i++) causalSoftmaxRow(heap, pBlock / 4 + i * rowStride, i, slope);
        loops.pairSum(pBlock, rowStride * 4, vAt.at + b * seqLen * vAt.stride + kvCol, vAt.stride, outAt + b * seqLen * d * 4 + col, d * 4, len);
      }
    }
    this.zeroPadding(heap, { at: outAt, stride: d * 4 }, 0);
    jsAttentionFlops.total += 2 * this.c.product;
    const save: Saved = { p: k.tensor(pInfo) };
    inputs.forEach((t, i) => {
      save[`in${i}`] = t;
    });
    if (rq && rk) {
      save.rq = k.tensor(rq);
      save.rk = k.tensor(rk);
    }
    return { value: k.tensor<tf.Tensor2D>(outInfo), save, backward: (dy, saved) => this.backward(inputs.length, dy, saved) };
  }

  /** One thunk per input: the packed q | k | v gradient, or those of q, k and v each. */
  private backward(inputCount: number, dy: tf.Tensor, saved: Saved): Array<() => tf.Tensor> {
    const { layout } = this.c;
    const savedInputs = Array.from({ length: inputCount }, (_, i) => saved[`in${i}`] as tf.Tensor);
    // the score gradients, computed by the first thunk that needs them
    const memo: { scoreGrads?: Float32Array } = {};
    const gradients = (wanted: readonly Which[], targets: Place[], kb: KernelScope) => this.gradients({ dy, saved, savedInputs, memo }, wanted, targets, kb);
    if (this.c.packed)
      return [
        () =>
          withKernels((kb) => {
            const all = kb.alloc([this.rows, layout.packed]);
            const at = addressOf(all);
            gradients(
              [0, 1, 2],
              layout.offset.map((o) => ({ at: at + o * 4, stride: layout.packed * 4 })),
              kb,
            );
            return kb.tensor<tf.Tensor2D>(all);
          }),
      ];
    return ([0, 1, 2] as const).map(
      (which) => () =>
        withKernels((kb) => {
          const one = kb.alloc([this.rows, layout.width[which]]);
          gradients([which], [{ at: addressOf(one), stride: layout.width[which] * 4 }], kb);
          return kb.tensor<tf.Tensor2D>(one);
        }),
    );
  }

  /**
   * The gradients of q (0), k (1) and v (2) asked for, each into its target (byte address, row
   * stride in bytes), for every (sequence, head) block.
   */
  private gradients(
    from: { dy: tf.Tensor; saved: Saved; savedInputs: tf.Tensor[]; memo: { scoreGrads?: Float32Array } },
    wanted: readonly Which[],
    targets: Place[],
    kb: KernelScope,
  ): void {
    const { loops, g, layout, scale, rotary } = this.c;
    const { batch, seqLen, heads, group, hd, lens } = g;
    const [d, dkv] = layout.width;
    const { rowStride, tt } = this;
    const { dy, saved, savedInputs, memo } = from;
    const needScores = wanted.some((w) => w !== 2);
    const dsInfo = needScores ? kb.alloc([batch * heads * tt]) : undefined;
    // gradients through the rotation land in rotated space first
    const rotatedTargets = wanted.map((w) => (rotary && w !== 2 ? kb.alloc([this.rows, layout.width[w]]) : undefined));
    const heap = heapF32();
    const pAt = addressOf(saved.p as tf.Tensor);
    const dyAt = { at: addressOf(dy), stride: d * 4 };
    const qAt = saved.rq ? { at: addressOf(saved.rq), stride: d * 4 } : this.inputAt(0, savedInputs);
    const kAt = saved.rk ? { at: addressOf(saved.rk), stride: dkv * 4 } : this.inputAt(1, savedInputs);
    const vAt = this.inputAt(2, savedInputs);
    const dsAt = dsInfo ? addressOf(dsInfo) : 0;
    const into = wanted.map((w, n) => {
      const r = rotatedTargets[n];
      return r ? { at: addressOf(r), stride: layout.width[w] * 4 } : (targets[n] as Place);
    });
    for (let b = 0; b < batch; b++) {
      const len = lens[b] as number;
      const rowAt = (x: Place, col: number): number => x.at + b * seqLen * x.stride + col;
      for (let h = 0; h < heads; h++) {
        const col = h * hd * 4;
        const kvCol = ((h / group) | 0) * hd * 4;
        const first = (b * heads + h) * tt;
        const pBlock = pAt + first * 4;
        const dsBlock = dsAt + first * 4;
        if (needScores) {
          if (memo.scoreGrads) heap.set(memo.scoreGrads.subarray(first, first + tt), dsBlock / 4);
          else {
            // dP = dO V^T, then dS = P (dP - rowsum(dP P)) / sqrt(hd), in place
            loops.scores(rowAt(dyAt, col), dyAt.stride, rowAt(vAt, kvCol), vAt.stride, dsBlock, rowStride * 4, len, 1);
            for (let i = 0; i < len; i++) {
              const row = dsBlock / 4 + i * rowStride;
              const prow = pBlock / 4 + i * rowStride;
              let rowDot = 0;
              for (let j = 0; j <= i; j++) rowDot += (heap[row + j] as number) * (heap[prow + j] as number);
              for (let j = 0; j <= i; j++) heap[row + j] = (heap[prow + j] as number) * ((heap[row + j] as number) - rowDot) * scale;
            }
          }
        }
        // dK and dV: the group's first query head writes, the others add
        const pairSumT = h % group === 0 ? loops.pairSumT : loops.pairSumTAdd;
        wanted.forEach((w, n) => {
          const target = into[n] as Place;
          if (w === 0) loops.pairSum(dsBlock, rowStride * 4, rowAt(kAt, kvCol), kAt.stride, rowAt(target, col), target.stride, len);
          else if (w === 1) pairSumT(dsBlock, rowStride * 4, rowAt(qAt, col), qAt.stride, rowAt(target, kvCol), target.stride, len);
          else pairSumT(pBlock, rowStride * 4, rowAt(dyAt, col), dyAt.stride, rowAt(target, kvCol), target.stride, len);
        });
      }
    }
    if (needScores && !memo.scoreGrads) {
      memo.scoreGrads = heap.slice(dsAt / 4, dsAt / 4 + batch * heads * tt);
      jsAttentionFlops.total += this.c.product;
    }
    wanted.forEach((w, n) => {
      const target = targets[n] as Place;
      const r = rotatedTargets[n];
      if (r && w !== 2) this.rotateAt(heap, w, { at: addressOf(r), stride: layout.width[w] * 4 }, target, -1);
      this.zeroPadding(heap, target, w);
      jsAttentionFlops.total += this.c.product;
    });
  }
}
