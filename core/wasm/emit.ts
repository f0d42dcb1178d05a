/**
 * A minimal WebAssembly emitter: modules of a few hundred bytes built at run time (no toolchain),
 * importing one memory as `env.memory`. Used by the SIMD loops of the models (core/models/simd.ts)
 * and of the wire codec (core/protocol/message-scan.ts).
 */

/** The parts of the WebAssembly global used (the project's TS libs do not declare it). */
export interface WasmGlobal {
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
export const wasmGlobal = (globalThis as unknown as { WebAssembly?: WasmGlobal }).WebAssembly;

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
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

function sleb64(n: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (byte & 0x40) === 0) || (n === -1n && (byte & 0x40) !== 0)) {
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
export class Code {
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
  /** i64.const (the low 64 bits of c) */
  i64(c: bigint): this {
    this.bytes.push(0x42, ...sleb64(BigInt.asIntN(64, c)));
    return this;
  }
  /** local[best] = max(local[best], local[x]), both unsigned i32 */
  maxU(best: number, x: number): this {
    return this.get(x).get(best).get(x).get(best).op(0x4b).op(0x1b).set(best);
  }
  tee(i: number): this {
    this.bytes.push(0x22, ...uleb(i));
    return this;
  }
  op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }
  /** A SIMD instruction: the 0xfd prefix, then its opcode number. */
  simd(opcode: number): this {
    return this.op(0xfd, ...uleb(opcode));
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
  f32Sub(): this {
    return this.op(0x93);
  }
  f32Div(): this {
    return this.op(0x95);
  }
  f32Sqrt(): this {
    return this.op(0x91);
  }
  f32Const(c: number): this {
    return this.op(0x43, ...new Uint8Array(Float32Array.of(c).buffer));
  }
  f32x4Sqrt(): this {
    return this.op(0xfd, ...uleb(227));
  }
  f32x4Sub(): this {
    return this.op(0xfd, ...uleb(229));
  }
  /** The sum of the four lanes of the v128 on the stack, as f32 (kept in local `tmp`). */
  hsum(tmp: number): this {
    this.set(tmp);
    return this.get(tmp).f32x4Lane(0).get(tmp).f32x4Lane(1).f32Add().get(tmp).f32x4Lane(2).get(tmp).f32x4Lane(3).f32Add().f32Add();
  }
  /** v128.const with `c` in every f32 lane. */
  f32x4Const(c: number): this {
    return this.op(0xfd, 0x0c, ...new Uint8Array(Float32Array.of(c, c, c, c).buffer));
  }
  f32x4Div(): this {
    return this.op(0xfd, ...uleb(231));
  }
  f32x4Min(): this {
    return this.op(0xfd, ...uleb(232));
  }
  f32x4Max(): this {
    return this.op(0xfd, ...uleb(233));
  }
  f32x4Nearest(): this {
    return this.op(0xfd, ...uleb(106));
  }
  i32x4TruncSatF32x4(): this {
    return this.op(0xfd, ...uleb(248));
  }
  i32x4Add(): this {
    return this.op(0xfd, ...uleb(174));
  }
  i32x4Shl(): this {
    return this.op(0xfd, ...uleb(171));
  }
  /**
   * exp of the f32x4 on the stack (Cephes expf: x = n ln 2 + r, exp(r) by a degree-7 polynomial,
   * 2^n into the exponent bits; inputs clamped to [-87.3, 88.3]), using v128 locals t0, t1.
   */
  f32x4Exp(t0: number, t1: number): this {
    this.f32x4Const(-87.3).f32x4Max().f32x4Const(88.3).f32x4Min().set(t0);
    this.get(t0).f32x4Const(Math.LOG2E).f32x4Mul().f32x4Nearest().set(t1);
    // r = x - n ln2_hi - n ln2_lo
    this.get(t0).get(t1).f32x4Const(0.693359375).f32x4Mul().f32x4Sub().get(t1).f32x4Const(-2.1219444e-4).f32x4Mul().f32x4Sub().set(t0);
    this.f32x4Const(1.98756915e-4);
    for (const c of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) this.get(t0).f32x4Mul().f32x4Const(c).f32x4Add();
    // p r^2 + r + 1
    this.get(t0).f32x4Mul().get(t0).f32x4Mul().get(t0).f32x4Add().f32x4Const(1).f32x4Add();
    // 2^n: (n + 127) << 23 as float bits
    this.get(t1)
      .i32x4TruncSatF32x4()
      .op(0xfd, 0x0c, ...new Uint8Array(Int32Array.of(127, 127, 127, 127).buffer))
      .i32x4Add()
      .i32(23)
      .i32x4Shl();
    return this.f32x4Mul();
  }
  /** 1 / (1 + exp(-z)) of the f32x4 on the stack, with v128 locals t0, t1. */
  f32x4Sigmoid(t0: number, t1: number): this {
    this.set(t0);
    this.f32x4Const(1).f32x4Const(1).f32x4Const(0).get(t0).f32x4Sub().f32x4Exp(t0, t1).f32x4Add().f32x4Div();
    return this;
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

export interface FunctionSpec {
  name: string;
  params: number[];
  /** Extra locals, by type, after the params. */
  locals: number[];
  /** Result types (none by default). */
  results?: number[];
  code: Code;
}

export function moduleBytes(fns: FunctionSpec[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec((f.results ?? []).map((r) => [r]))]);
  const imports = vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]]);
  const funcs = vec(fns.map((_, i) => uleb(i)));
  const exports = vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]));
  const bodies = fns.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.code.end()];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, vec(bodies)),
  ]);
}
