import * as tf from '@tensorflow/tfjs';
import { causalPairs, jsAttentionFlops, kvGrouping, type AttentionShape } from './attention.js';
import {
  attentionForward,
  attentionPairProductInto,
  attentionPairProductsInto,
  attentionScoreGrads,
  rotateRows,
  rotateRowsInto,
  type Geometry,
  type Rows,
} from './attention-loops.js';
import { block, type Saved } from './block.js';
import { readView, uploadBuffer } from '../tensor/kernels.js';
import { attentionSimd, type QkvLayout } from './attention-simd.js';
import { attentionLoops } from './simd.js';

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
    packed
      ? { values: readView(q), offset: layout.offset[which], stride: layout.packed }
      : { values: readView(t as tf.Tensor), offset: 0, stride: layout.width[which] };
  const inputs = packed ? [q] : [q, k as tf.Tensor2D, v as tf.Tensor2D];
  const loops = attentionLoops(hd);
  if (loops) return attentionSimd({ loops, packed, g, layout, scale, product, rotary }, inputs);
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
