/**
 * The scalar loops of the JS attention kernel (attention-kernel.ts): scores, the causal softmax,
 * pair products and the rotary rotation, over heads indexed in place in row-major arrays.
 */

/**
 * Shape of a JS attention call: heads indexed in place in [batch*t, heads*hd] query rows and
 * [batch*t, kvHeads*hd] key/value rows; query head h reads key/value head floor(h / group).
 */
export interface Geometry {
  batch: number;
  seqLen: number;
  heads: number;
  /** Query heads per key/value head (1: multi-head attention). */
  group: number;
  hd: number;
  /** Real length of each sequence; rows beyond are padding, left out. */
  lens: Int32Array;
  /** ALiBi's slope of each head: score(i, j) -= slope (i - j). */
  slopes?: Float32Array | undefined;
}

/** A [batch*t, heads*hd] matrix inside a row-major array: row r starts at offset + r * stride. */
export interface Rows {
  values: Float32Array;
  offset: number;
  stride: number;
}

/** rotateRowsInto a new [rows, heads * hd] array. */
export function rotateRows(x: Rows, rows: number, heads: number, rotary: { cos: Float32Array; sin: Float32Array }, g: Geometry, sign: number): Float32Array {
  const out = new Float32Array(rows * heads * g.hd);
  rotateRowsInto(x, rows, heads, rotary, g, sign, { values: out, offset: 0, stride: heads * g.hd });
  return out;
}

/**
 * x cos + rotateHalf(x) sin per head of `heads` (query or key heads) (sign 1), or its inverse
 * (sign -1, the rotation by minus the angle, which is also its transpose):
 * rotateHalf([a, b]) = [-b, a]. Tables [t * hd].
 */
export function rotateRowsInto(
  x: Rows,
  rows: number,
  heads: number,
  rotary: { cos: Float32Array; sin: Float32Array },
  g: Geometry,
  sign: number,
  out: Rows,
): void {
  const { cos, sin } = rotary;
  const { seqLen, hd } = g;
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
export function causalSoftmaxRow(values: Float32Array, row: number, i: number, slope: number): void {
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
export function attentionForward(q: Rows, k: Rows, v: Rows, p: Float32Array, out: Rows, g: Geometry, scale: number): void {
  const { batch, seqLen, heads, group, hd, lens } = g;
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let h = 0; h < heads; h++) {
      const col = h * hd;
      const kvCol = ((h / group) | 0) * hd;
      const pBase = (b * heads + h) * seqLen * seqLen;
      const slope = g.slopes ? (g.slopes[h] as number) : 0;
      for (let i = 0; i < len; i++) {
        const qo = q.offset + (b * seqLen + i) * q.stride + col;
        const pr = pBase + i * seqLen;
        for (let j = 0; j <= i; j++) p[pr + j] = dot(q.values, qo, k.values, k.offset + (b * seqLen + j) * k.stride + kvCol, hd) * scale;
        causalSoftmaxRow(p, pr, i, slope);
      }
    }
  }
  attentionPairProductInto(p, v, out, g, false);
}

/** dS = P (dP - rowsum(dP P)) * scale with dP = dO V^T, over causal pairs; [batch, heads, t, t]. */
export function attentionScoreGrads(dOut: Rows, v: Rows, p: Float32Array, g: Geometry, scale: number): Float32Array {
  const { batch, seqLen, heads, group, hd, lens } = g;
  const grads = new Float32Array(p.length);
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let h = 0; h < heads; h++) {
      const col = h * hd;
      const kvCol = ((h / group) | 0) * hd;
      const pBase = (b * heads + h) * seqLen * seqLen;
      for (let i = 0; i < len; i++) {
        const oo = dOut.offset + (b * seqLen + i) * dOut.stride + col;
        const pr = pBase + i * seqLen;
        let rowDot = 0;
        for (let j = 0; j <= i; j++) {
          const dp = dot(dOut.values, oo, v.values, v.offset + (b * seqLen + j) * v.stride + kvCol, hd);
          grads[pr + j] = dp;
          rowDot += dp * (p[pr + j] as number);
        }
        for (let j = 0; j <= i; j++) grads[pr + j] = (p[pr + j] as number) * ((grads[pr + j] as number) - rowDot) * scale;
      }
    }
  }
  return grads;
}

/** Rows r >= each sequence's length of `out`, `width` columns from its offset, set to 0. */
function zeroPaddedRows(out: Rows, width: number, g: Geometry): void {
  for (let b = 0; b < g.batch; b++) {
    for (let r = g.lens[b] as number; r < g.seqLen; r++) {
      const o = out.offset + (b * g.seqLen + r) * out.stride;
      out.values.fill(0, o, o + width);
    }
  }
}

/**
 * Over causal pairs (i, j <= i) of real queries with weights w [batch, heads, t, t]:
 * out_i = sum_j w_ij x_j (x key/value rows, out query rows: P V, dS K), or with `transposed`
 * out_j = sum_i w_ij x_i (x query rows, out key/value rows: P^T dO, dS^T Q) summed over the query
 * heads that share each key/value head, each output row at a time with four columns in
 * registers; rows at or past a sequence's length get 0.
 */
export function attentionPairProductInto(w: Float32Array, x: Rows, out: Rows, g: Geometry, transposed: boolean): void {
  const { batch, seqLen, heads, group, hd, lens } = g;
  const outHeads = transposed ? heads / group : heads;
  const members = transposed ? group : 1;
  const xs = x.values;
  const os = out.values;
  zeroPaddedRows(out, outHeads * hd, g);
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let oh = 0; oh < outHeads; oh++) {
      const first = transposed ? oh * group : oh;
      for (let r = 0; r < len; r++) {
        const ro = out.offset + (b * seqLen + r) * out.stride + oh * hd;
        // pairs of output row r: (r, j <= r) read row r of w; transposed, (i >= r, r) read column r
        const from = transposed ? r : 0;
        const to = transposed ? len - 1 : r;
        const wStep = transposed ? seqLen : 1;
        let c = 0;
        for (; c + 3 < hd; c += 4) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          for (let h = first; h < first + members; h++) {
            const wBase = (b * heads + h) * seqLen * seqLen;
            const wStart = transposed ? wBase + r * seqLen + r : wBase + r * seqLen;
            const xBase = x.offset + b * seqLen * x.stride + (transposed ? h : (h / group) | 0) * hd;
            for (let m = from, wi = wStart; m <= to; m++, wi += wStep) {
              const wm = w[wi] as number;
              const o = xBase + m * x.stride + c;
              a0 += wm * (xs[o] as number);
              a1 += wm * (xs[o + 1] as number);
              a2 += wm * (xs[o + 2] as number);
              a3 += wm * (xs[o + 3] as number);
            }
          }
          os[ro + c] = a0;
          os[ro + c + 1] = a1;
          os[ro + c + 2] = a2;
          os[ro + c + 3] = a3;
        }
        for (; c < hd; c++) {
          let a = 0;
          for (let h = first; h < first + members; h++) {
            const wBase = (b * heads + h) * seqLen * seqLen;
            const wStart = transposed ? wBase + r * seqLen + r : wBase + r * seqLen;
            const xBase = x.offset + b * seqLen * x.stride + (transposed ? h : (h / group) | 0) * hd;
            for (let m = from, wi = wStart; m <= to; m++, wi += wStep) a += (w[wi] as number) * (xs[xBase + m * x.stride + c] as number);
          }
          os[ro + c] = a;
        }
      }
    }
  }
}

/** attentionPairProductInto transposed for two weight/input pairs over the same pairs in one pass:
 * out1_j = sum_i w1_ij x1_i and out2_j = sum_i w2_ij x2_i (dK and dV). */
export function attentionPairProductsInto(w1: Float32Array, x1: Rows, out1: Rows, w2: Float32Array, x2: Rows, out2: Rows, g: Geometry): void {
  const { batch, seqLen, heads, group, hd, lens } = g;
  const kvHeads = heads / group;
  const x1s = x1.values;
  const x2s = x2.values;
  zeroPaddedRows(out1, kvHeads * hd, g);
  zeroPaddedRows(out2, kvHeads * hd, g);
  for (let b = 0; b < batch; b++) {
    const len = lens[b] as number;
    for (let kh = 0; kh < kvHeads; kh++) {
      for (let r = 0; r < len; r++) {
        const o1 = out1.offset + (b * seqLen + r) * out1.stride + kh * hd;
        const o2 = out2.offset + (b * seqLen + r) * out2.stride + kh * hd;
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
          for (let h = kh * group; h < (kh + 1) * group; h++) {
            const wStart = (b * heads + h) * seqLen * seqLen + r * seqLen + r;
            const x1Base = x1.offset + b * seqLen * x1.stride + h * hd;
            const x2Base = x2.offset + b * seqLen * x2.stride + h * hd;
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
          for (let h = kh * group; h < (kh + 1) * group; h++) {
            const wStart = (b * heads + h) * seqLen * seqLen + r * seqLen + r;
            const x1Base = x1.offset + b * seqLen * x1.stride + h * hd;
            const x2Base = x2.offset + b * seqLen * x2.stride + h * hd;
            for (let m = r, wi = wStart; m < len; m++, wi += seqLen) {
              a += (w1[wi] as number) * (x1s[x1Base + m * x1.stride + c] as number);
              bb += (w2[wi] as number) * (x2s[x2Base + m * x2.stride + c] as number);
            }
          }
          out1.values[o1 + c] = a;
          out2.values[o2 + c] = bb;
        }
      }
    }
  }
}
