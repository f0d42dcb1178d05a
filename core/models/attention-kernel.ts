import * as tf from '@tensorflow/tfjs';
import { causalPairs, jsAttentionFlops, kvGrouping, type AttentionShape } from './attention.js';
import { attentionForward, attentionPairProductInto, attentionPairProductsInto, attentionScoreGrads, causalSoftmaxRow, rotateRows, rotateRowsInto, type Geometry, type Rows } from './attention-loops.js';
import { block, type Saved } from './block.js';
import { readView, uploadBuffer, withKernels } from '../tensor/kernels.js';
import { addressOf, attentionLoops, heapF32, type AttentionLoops } from './simd.js';

/**
 * Where q (0), k (1) and v (2) sit in a JS attention call: their widths (queries heads * hd, keys
 * and values kvHeads * hd), and their column offsets when packed side by side (q | k | v).
 */
interface QkvLayout {
  width: readonly [number, number, number];
  offset: readonly [number, number, number];
  /** Width of the packed rows. */
  packed: number;
  /** Heads of each: query heads for q, key/value heads for k and v. */
  heads: readonly [number, number, number];
}

function qkvLayout(heads: number, kvHeads: number, hd: number): QkvLayout {
  const d = heads * hd;
  const dkv = kvHeads * hd;
  return { width: [d, dkv, dkv], offset: [0, d, d + dkv], packed: d + 2 * dkv, heads: [heads, kvHeads, kvHeads] };
}

/**
 * causalSelfAttention computed in JS over [batch*t, heads*hd] queries and [batch*t, kvHeads*hd]
 * keys and values, with heads indexed in place (no head transposes or repeats: query head h reads
 * key/value head floor(h / group) where it sits), the scale, mask and softmax fused, and only the
 * causal pairs (key <= query) visited, of real queries only when the sequences' lengths are
 * given (padded query rows come out 0: under right padding no real position and no loss depends
 * on them). Rotary embedding (tables [t * hd]) is applied in JS too. `q` is either the queries,
 * with `k` and `v` given, or q | k | v side by side ([batch*t, (heads + 2 kvHeads) hd], see
 * qkvDense), whose gradient then comes packed the same way. Backward: the score gradients
 * dS = P (dP - rowsum(dP P)) / sqrt(hd) once, for whichever of dQ = dS K and dK = dS^T Q backprop
 * asks for; dV = P^T dO on its own; dK and dV summed over the query heads of each group.
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
  const { kvHeads, group } = kvGrouping(s);
  const hd = packed ? q.shape[1] / (heads + 2 * kvHeads) : q.shape[1] / heads;
  const layout = qkvLayout(heads, kvHeads, hd);
  const [d, dkv] = layout.width;
  const rows = batch * seqLen;
  const scale = 1 / Math.sqrt(hd);
  const lens = Int32Array.from({ length: batch }, (_, b) => (s.lengths ? Math.min(s.lengths[b] as number, seqLen) : seqLen));
  const g: Geometry = { batch, seqLen, heads, group, hd, lens, slopes: alibi };
  const product = 2 * heads * causalPairs(seqLen, s.lengths, batch) * hd;
  // where q, k and v sit (views are read right away, never across an allocation)
  const at = (which: 0 | 1 | 2, t: tf.Tensor | undefined): Rows =>
    packed ? { values: readView(q), offset: layout.offset[which], stride: layout.packed } : { values: readView(t as tf.Tensor), offset: 0, stride: layout.width[which] };
  const inputs = packed ? [q] : [q, k as tf.Tensor2D, v as tf.Tensor2D];
  const loops = attentionLoops(hd);
  if (loops) return attentionSimd(loops, inputs, packed, g, layout, scale, product, rotary);
  return block(inputs, () => {
    // rotated copies of q ([rows, d]) and k ([rows, dkv]), kept for backward
    const rq = rotary ? rotateRows(at(0, q), rows, heads, rotary, g, 1) : undefined;
    const rk = rotary ? rotateRows(at(1, k), rows, kvHeads, rotary, g, 1) : undefined;
    const qRows = (t?: tf.Tensor): Rows => (rq ? { values: rq, offset: 0, stride: d } : at(0, t ?? q));
    const kRows = (t?: tf.Tensor): Rows => (rk ? { values: rk, offset: 0, stride: dkv } : at(1, t ?? k));
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
          packed
            ? { values: readView(saved.qkv as tf.Tensor), offset: layout.offset[which], stride: layout.packed }
            : { values: readView(saved[['q', 'k', 'v'][which] as string] as tf.Tensor), offset: 0, stride: layout.width[which] };
        const dOut = (): Rows => ({ values: readView(dy), offset: 0, stride: d });
        const dScores = (): Float32Array => {
          if (!scoreGrads) {
            scoreGrads = attentionScoreGrads(dOut(), savedAt(2), p, g, scale);
            jsAttentionFlops.total += product;
          }
          return scoreGrads;
        };
        // dQ, dK or dV into `target`
        const gradient = (which: 0 | 1 | 2, target: Rows): void => {
          if (which === 2) attentionPairProductInto(p, dOut(), target, g, true);
          else {
            const other = which === 0 ? (rk ? { values: rk, offset: 0, stride: dkv } : savedAt(1)) : rq ? { values: rq, offset: 0, stride: d } : savedAt(0);
            const scores = dScores();
            if (rotary) {
              const width = layout.width[which];
              const unrotated = new Float32Array(rows * width);
              attentionPairProductInto(scores, other, { values: unrotated, offset: 0, stride: width }, g, which === 1);
              rotateRowsInto({ values: unrotated, offset: 0, stride: width }, rows, layout.heads[which], rotary, g, -1, target);
            } else attentionPairProductInto(scores, other, target, g, which === 1);
          }
          jsAttentionFlops.total += product;
        };
        if (packed) {
          return [
            () => {
              const all = uploadBuffer(rows * layout.packed);
              const part = (which: 0 | 1 | 2): Rows => ({ values: all, offset: layout.offset[which], stride: layout.packed });
              gradient(0, part(0));
              if (rotary) {
                gradient(1, part(1));
                gradient(2, part(2));
              } else {
                // dK = dS^T Q and dV = P^T dO visit the same pairs: one pass
                attentionPairProductsInto(dScores(), savedAt(0), part(1), p, dOut(), part(2), g);
                jsAttentionFlops.total += 2 * product;
              }
              return tf.tensor2d(all, [rows, layout.packed]);
            },
          ];
        }
        return ([0, 1, 2] as const).map((which) => () => {
          const one = uploadBuffer(rows * layout.width[which]);
          gradient(which, { values: one, offset: 0, stride: layout.width[which] });
          return tf.tensor2d(one, [rows, layout.width[which]]);
        });
      },
    };
  });
}

/**
 * causalSelfAttentionJs on the wasm backend with SIMD loops (simd.ts) over the backend's heap:
 * the probabilities, rotated q and k, outputs and gradients are tensors there, written in place;
 * the causal softmax runs there too (in JS with ALiBi's penalties), the score gradients (a few
 * operations a pair) in JS. Of the query heads
 * sharing a key/value head, the first writes its dK and dV share and the others add theirs.
 */
function attentionSimd(
  loops: AttentionLoops,
  inputs: tf.Tensor2D[],
  packed: boolean,
  g: Geometry,
  layout: QkvLayout,
  scale: number,
  product: number,
  rotary: { cos: Float32Array; sin: Float32Array } | undefined,
): tf.Tensor2D {
  const { batch, seqLen, heads, group, hd, lens } = g;
  const [d, dkv] = layout.width;
  const rows = batch * seqLen;
  // probability rows padded to whole groups of 4 lanes: the softmax loop may write up to 3
  // lanes past key i, into the row's own unused (non-causal) part
  const rowStride = (seqLen + 3) & ~3;
  const tt = seqLen * rowStride;
  type Place = { at: number; stride: number };
  // byte address and row stride (bytes) of q (0), k (1) or v (2) in the inputs
  const inputAt = (which: 0 | 1 | 2, tensors: readonly tf.Tensor[]): Place =>
    packed
      ? { at: addressOf(tensors[0] as tf.Tensor) + layout.offset[which] * 4, stride: layout.packed * 4 }
      : { at: addressOf(tensors[which] as tf.Tensor), stride: layout.width[which] * 4 };
  /** Rows r >= the sequence's length of the q (0), k (1) or v (2) rows at `x` set to 0. */
  const zeroPadding = (heap: Float32Array, x: Place, which: 0 | 1 | 2): void => {
    for (let b = 0; b < batch; b++)
      for (let r = lens[b] as number; r < seqLen; r++) {
        const o = (x.at + (b * seqLen + r) * x.stride) / 4;
        heap.fill(0, o, o + layout.width[which]);
      }
  };
  /** The q (0) or k (1) rows at `from` rotated (sign 1) or rotated back (sign -1) into rows at `to`. */
  const rotateAt = (heap: Float32Array, which: 0 | 1, from: Place, to: Place, sign: number): void =>
    rotateRowsInto({ values: heap, offset: from.at / 4, stride: from.stride / 4 }, rows, layout.heads[which], rotary as { cos: Float32Array; sin: Float32Array }, g, sign, { values: heap, offset: to.at / 4, stride: to.stride / 4 });
  return block(inputs, () =>
    withKernels((k) => {
      const pInfo = k.alloc([batch * heads * tt]);
      const outInfo = k.alloc([rows, d]);
      const rq = rotary ? k.alloc([rows, d]) : undefined;
      const rk = rotary ? k.alloc([rows, dkv]) : undefined;
      // no allocation from here on: addresses and the heap view stay valid
      const heap = heapF32();
      if (rq && rk) {
        rotateAt(heap, 0, inputAt(0, inputs), { at: addressOf(rq), stride: d * 4 }, 1);
        rotateAt(heap, 1, inputAt(1, inputs), { at: addressOf(rk), stride: dkv * 4 }, 1);
      }
      const qAt = rq ? { at: addressOf(rq), stride: d * 4 } : inputAt(0, inputs);
      const kAt = rk ? { at: addressOf(rk), stride: dkv * 4 } : inputAt(1, inputs);
      const vAt = inputAt(2, inputs);
      const pAt = addressOf(pInfo);
      const outAt = addressOf(outInfo);
      for (let b = 0; b < batch; b++) {
        const len = lens[b] as number;
        for (let h = 0; h < heads; h++) {
          const pBlock = pAt + (b * heads + h) * tt * 4;
          const col = h * hd * 4;
          const kvCol = ((h / group) | 0) * hd * 4;
          loops.scores(qAt.at + b * seqLen * qAt.stride + col, qAt.stride, kAt.at + b * seqLen * kAt.stride + kvCol, kAt.stride, pBlock, rowStride * 4, len, scale);
          const slope = g.slopes ? (g.slopes[h] as number) : 0;
          if (slope === 0) loops.softmax(pBlock, rowStride * 4, len);
          else for (let i = 0; i < len; i++) causalSoftmaxRow(heap, pBlock / 4 + i * rowStride, i, slope);
          loops.pairSum(pBlock, rowStride * 4, vAt.at + b * seqLen * vAt.stride + kvCol, vAt.stride, outAt + b * seqLen * d * 4 + col, d * 4, len);
        }
      }
      zeroPadding(heap, { at: outAt, stride: d * 4 }, 0);
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
          const gradients = (wanted: ReadonlyArray<0 | 1 | 2>, targets: Place[], kb: { alloc(shape: number[]): tf.TensorInfo }): void => {
            const needScores = wanted.some((w) => w !== 2);
            const dsInfo = needScores ? kb.alloc([batch * heads * tt]) : undefined;
            // gradients through the rotation land in rotated space first
            const rotatedTargets = wanted.map((w) => (rotary && w !== 2 ? kb.alloc([rows, layout.width[w]]) : undefined));
            const heap = heapF32();
            const pAt = addressOf(saved.p as tf.Tensor);
            const dyAt = { at: addressOf(dy), stride: d * 4 };
            const qAt = saved.rq ? { at: addressOf(saved.rq), stride: d * 4 } : inputAt(0, savedInputs);
            const kAt = saved.rk ? { at: addressOf(saved.rk), stride: dkv * 4 } : inputAt(1, savedInputs);
            const vAt = inputAt(2, savedInputs);
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
                const block = (b * heads + h) * tt;
                const pBlock = pAt + block * 4;
                const dsBlock = dsAt + block * 4;
                if (needScores) {
                  if (scoreGrads) heap.set(scoreGrads.subarray(block, block + tt), dsBlock / 4);
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
            if (needScores && !scoreGrads) {
              scoreGrads = heap.slice(dsAt / 4, dsAt / 4 + batch * heads * tt);
              jsAttentionFlops.total += product;
            }
            wanted.forEach((w, n) => {
              const target = targets[n] as Place;
              const r = rotatedTargets[n];
              if (r && w !== 2) rotateAt(heap, w, { at: addressOf(r), stride: layout.width[w] * 4 }, target, -1);
              zeroPadding(heap, target, w);
              jsAttentionFlops.total += product;
            });
          };
          if (packed) {
            return [
              () =>
                withKernels((kb) => {
                  const all = kb.alloc([rows, layout.packed]);
                  const at = addressOf(all);
                  gradients([0, 1, 2], layout.offset.map((o) => ({ at: at + o * 4, stride: layout.packed * 4 })), kb);
                  return kb.tensor<tf.Tensor2D>(all);
                }),
            ];
          }
          return ([0, 1, 2] as const).map((which) => () =>
            withKernels((kb) => {
              const one = kb.alloc([rows, layout.width[which]]);
              gradients([which], [{ at: addressOf(one), stride: layout.width[which] * 4 }], kb);
              return kb.tensor<tf.Tensor2D>(one);
            }),
          );
        },
      };
    }),
  );
}
