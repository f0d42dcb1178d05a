/**
 * WebAssembly SIMD loops for the JS attention kernel (layers.ts causalSelfAttentionJs) on the
 * wasm backend, working in place on the backend's own heap.
 *
 * At the shipped sizes (head size 24 to 32, sequences of a few to 64 tokens) attention is a few
 * hundred thousand multiply-adds a step, far too small for a product kernel to pay off, and the
 * scalar JS loops run at about one multiply-add a nanosecond. These loops do the same multiply-
 * adds four lanes at a time: a module is built at run time (a few hundred bytes, no toolchain)
 * for each head size, fully unrolled over the head's columns, importing the tfjs wasm backend's
 * memory so that queries, keys, values and gradients are read where the backend keeps them.
 *
 * Each call covers one (sequence, head) block of `len` real positions, over the causal pairs
 * (key j <= query i) only:
 *   scores:     w[i, j] = scale * x_i . y_j                      (Q K^T, dO V^T)
 *   pairSum:    out_i = sum_{j <= i} w[i, j] y_j                  (P V, dS K)
 *   pairSumT:   out_j = sum_{i >= j} w[i, j] y_i                  (P^T dO, dS^T Q)
 * Row i of x, y and out starts at base + i * stride (bytes); w rows are `wStride` bytes apart.
 * Sums are kept in float32 lanes (the scalar loops keep float64), so results differ from them in
 * the last bits.
 */
import * as tf from '@tensorflow/tfjs';

export interface AttentionLoops {
  /** The backend's heap, as floats (fetched anew after every allocation). */
  heap(): Float32Array;
  /** Byte offset of a tensor's data in the heap. */
  offsetOf(t: tf.TensorInfo): number;
  scores(x: number, xStride: number, y: number, yStride: number, w: number, wStride: number, len: number, scale: number): void;
  pairSum(w: number, wStride: number, y: number, yStride: number, out: number, outStride: number, len: number): void;
  pairSumT(w: number, wStride: number, y: number, yStride: number, out: number, outStride: number, len: number): void;
}

/** The parts of the WebAssembly global used here (the project's TS libs do not declare it). */
interface WasmGlobal {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmGlobal = (globalThis as unknown as { WebAssembly?: WasmGlobal }).WebAssembly;

interface WasmBackendInternals {
  wasm: {
    asm: { memory: object };
    HEAPF32: Float32Array;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** Built loops by head size, with the memory they were built on (null: could not be built). */
const cache = new Map<number, { memory: object; loops: AttentionLoops | null }>();

/** The loops for head size `hd` on the active backend, or undefined where they do not apply
 * (not the wasm backend, hd not a multiple of 4, no SIMD in this runtime). */
export function attentionLoops(hd: number): AttentionLoops | undefined {
  if (tf.getBackend() !== 'wasm' || hd % 4 !== 0 || hd <= 0) return undefined;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const memory = backend.wasm?.asm?.memory;
  if (!wasmGlobal || !(memory instanceof wasmGlobal.Memory)) return undefined;
  // per head size and memory (a new wasm backend has a new one)
  const cached = cache.get(hd);
  if (cached && cached.memory === memory) return cached.loops ?? undefined;
  let loops: AttentionLoops | null = null;
  try {
    const exports = new wasmGlobal.Instance(new wasmGlobal.Module(attentionModule(hd / 4)), { env: { memory } }).exports as unknown as Pick<AttentionLoops, 'scores' | 'pairSum' | 'pairSumT'>;
    loops = {
      heap: () => backend.wasm.HEAPF32,
      offsetOf: (t) => {
        const data = backend.dataIdMap.get(t.dataId);
        if (!data) throw new Error('attentionLoops: tensor data not on the wasm backend');
        return data.memoryOffset;
      },
      scores: exports.scores,
      pairSum: exports.pairSum,
      pairSumT: exports.pairSumT,
    };
  } catch {
    loops = null;
  }
  cache.set(hd, { memory, loops });
  return loops ?? undefined;
}

// ---------------------------------------------------------------------------------------------
// A minimal WebAssembly emitter

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function name(s: string): number[] {
  const bytes = [...Buffer.from(s, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Function body builder: one method per instruction used here. */
class Code {
  readonly bytes: number[] = [];
  get(i: number): this {
    this.bytes.push(0x20, ...uleb(i));
    return this;
  }
  set(i: number): this {
    this.bytes.push(0x21, ...uleb(i));
    return this;
  }
  i32(c: number): this {
    this.bytes.push(0x41, ...sleb(c));
    return this;
  }
  op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }
  /** i32 binary ops */
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  geS(): this {
    return this.op(0x4e);
  }
  /** local[i] += local[j] (i32) */
  incBy(i: number, j: number): this {
    return this.get(i).get(j).add().set(i);
  }
  incConst(i: number, c: number): this {
    return this.get(i).i32(c).add().set(i);
  }
  f32Load(offset = 0): this {
    return this.op(0x2a, 2, ...uleb(offset));
  }
  f32Store(offset = 0): this {
    return this.op(0x38, 2, ...uleb(offset));
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  v128Load(offset = 0): this {
    return this.op(0xfd, 0x00, 4, ...uleb(offset));
  }
  v128Store(offset = 0): this {
    return this.op(0xfd, 0x0b, 4, ...uleb(offset));
  }
  v128Zero(): this {
    return this.op(0xfd, 0x0c, ...new Array<number>(16).fill(0));
  }
  f32x4Splat(): this {
    return this.op(0xfd, 0x13);
  }
  f32x4Lane(lane: number): this {
    return this.op(0xfd, 0x1f, lane);
  }
  f32x4Add(): this {
    return this.op(0xfd, ...uleb(228));
  }
  f32x4Mul(): this {
    return this.op(0xfd, ...uleb(230));
  }
  /** while (local[counter] < local[limit]) { body; counter++ } (the counter set by the caller) */
  loopUntil(counter: number, limit: number, body: (c: this) => void): this {
    this.op(0x02, 0x40, 0x03, 0x40);
    this.get(counter).get(limit).geS().op(0x0d, 1);
    body(this);
    this.incConst(counter, 1);
    this.op(0x0c, 0, 0x0b, 0x0b);
    return this;
  }
  /** The body's bytes with the function's closing `end`. */
  end(): number[] {
    return [...this.bytes, 0x0b];
  }
}

interface FunctionSpec {
  name: string;
  params: number[];
  /** Extra locals, by type, after the params. */
  locals: number[];
  code: Code;
}

function moduleBytes(fns: FunctionSpec[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0]);
  const imports = vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]]);
  const funcs = vec(fns.map((_, i) => uleb(i)));
  const exports = vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]));
  const bodies = fns.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.code.end()];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, vec(bodies)),
  ]);
}

/**
 * The three loops for a head of `lanes` * 4 columns. Params are (in order) as in AttentionLoops;
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
          d.get(acc).get(x).v128Load(l * 16).get(yj).v128Load(l * 16).f32x4Mul().f32x4Add().set(acc);
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
        for (let l = 0; l < lanes; l++) d.get(acc + l).get(s).get(yj).v128Load(l * 16).f32x4Mul().f32x4Add().set(acc + l);
        d.incBy(yj, yStride).incConst(wij, 4);
      });
      for (let l = 0; l < lanes; l++) c.get(out).get(acc + l).v128Store(l * 16);
      c.incBy(out, outStride).incBy(w, wStride);
    });
  }
  // pairSumT(w, wStride, y, yStride, out, outStride, len): out_j = sum_{i >= j} w[i, j] y_i
  const pairSumT = new Code();
  {
    const [w, wStride, y, yStride, out, outStride, len] = [0, 1, 2, 3, 4, 5, 6];
    const [j, i, yi, wij, s] = [7, 8, 9, 10, 11];
    const acc = 12;
    pairSumT.i32(0).set(j);
    pairSumT.loopUntil(j, len, (c) => {
      for (let l = 0; l < lanes; l++) c.v128Zero().set(acc + l);
      c.get(j).set(i);
      // y_i from i = j; w[i, j] from row j, column j
      c.get(y).get(j).get(yStride).mul().add().set(yi);
      c.get(w).get(j).get(wStride).mul().add().get(j).i32(4).mul().add().set(wij);
      c.loopUntil(i, len, (d) => {
        d.get(wij).f32Load().f32x4Splat().set(s);
        for (let l = 0; l < lanes; l++) d.get(acc + l).get(s).get(yi).v128Load(l * 16).f32x4Mul().f32x4Add().set(acc + l);
        d.incBy(yi, yStride).incBy(wij, wStride);
      });
      for (let l = 0; l < lanes; l++) c.get(out).get(acc + l).v128Store(l * 16);
      c.incBy(out, outStride);
    });
  }
  return moduleBytes([
    { name: 'scores', params: [I32, I32, I32, I32, I32, I32, I32, F32], locals: [I32, I32, I32, I32, I32, V128, V128], code: scores },
    { name: 'pairSum', params: [I32, I32, I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, V128, ...new Array<number>(lanes).fill(V128)], code: pairSum },
    { name: 'pairSumT', params: [I32, I32, I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, V128, ...new Array<number>(lanes).fill(V128)], code: pairSumT },
  ]);
}
