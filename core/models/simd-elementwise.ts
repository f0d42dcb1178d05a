/**
 * WebAssembly SIMD loops for the elementwise work of a training step on the wasm backend (GELU,
 * SwiGLU, scaling, AdamW), built and cached as simd.ts builds the attention and norm loops,
 * working in place on the backend's heap.
 */
import { Code, F32, I32, moduleBytes, V128 } from '../wasm/emit.js';
import { instantiate } from './simd.js';

/** The loops of activationModule over n floats (n a multiple of 4). */
export interface ActivationLoops {
  /** y = x s, s = sigmoid(z), z = 2c (x + k x^3) (GPT-2's GELU); keeps s. */
  geluForward(x: number, y: number, s: number, n: number): void;
  /** dx = dy (s + x s (1 - s) dz/dx) = dy s (1 + (1 - s)(3 z - 4 c x)). */
  geluBackward(dy: number, x: number, s: number, dx: number, n: number): void;
  /** y = g sigmoid(g) u; keeps s = sigmoid(g). */
  swigluForward(g: number, u: number, y: number, s: number, n: number): void;
  /** dg = dy u s (1 + g (1 - s)). */
  swigluGate(dy: number, g: number, u: number, s: number, dg: number, n: number): void;
  /** du = dy g s. */
  swigluUp(dy: number, g: number, s: number, du: number, n: number): void;
  /** out = c x. */
  scale(x: number, out: number, c: number, n: number): void;
  /** y += c x, in place. */
  axpy(y: number, x: number, c: number, n: number): void;
}

/** The activation loops (GELU with constants c = sqrt(2/pi), k = 0.044715), as attentionLoops. */
export function activationLoops(): ActivationLoops | undefined {
  return instantiate<ActivationLoops>('activations', activationModule);
}

function activationModule(): Uint8Array {
  const c = Math.sqrt(2 / Math.PI);
  const k = 0.044715;
  /** A loop over n floats, 4 at a time; `ptrs` params advance 16 bytes a step. */
  const elementwise = (ptrs: number[], nParam: number, body: (code: Code) => void): Code => {
    const code = new Code();
    const i = nParam + 1;
    code.i32(0).set(i);
    code.get(nParam).i32(2).op(0x76).set(nParam); // n / 4 (i32.shr_u)
    code.loopUntil(i, nParam, (b) => {
      body(b);
      for (const p of ptrs) b.incConst(p, 16);
    });
    return code;
  };
  // locals after the params: i (i32), then v128 t0, t1, t2, t3
  const geluForward = elementwise([0, 1, 2], 3, (b) => {
    const [x, y, s] = [0, 1, 2];
    const [xv, t0, t1, sv] = [5, 6, 7, 8];
    b.get(x).v128Load().set(xv);
    // z = x (2c + 2ck x^2)
    b.get(xv)
      .get(xv)
      .f32x4Mul()
      .f32x4Const(2 * c * k)
      .f32x4Mul()
      .f32x4Const(2 * c)
      .f32x4Add()
      .get(xv)
      .f32x4Mul();
    b.f32x4Sigmoid(t0, t1).set(sv);
    b.get(s).get(sv).v128Store();
    b.get(y).get(xv).get(sv).f32x4Mul().v128Store();
  });
  const geluBackward = elementwise([0, 1, 2, 3], 4, (b) => {
    const [dy, x, s, dx] = [0, 1, 2, 3];
    const [xv, sv, t0] = [6, 7, 8];
    b.get(x).v128Load().set(xv).get(s).v128Load().set(sv);
    // x dz/dx = 3 z - 4 c x = x (2c + 6ck x^2)
    b.get(xv)
      .get(xv)
      .f32x4Mul()
      .f32x4Const(6 * c * k)
      .f32x4Mul()
      .f32x4Const(2 * c)
      .f32x4Add()
      .get(xv)
      .f32x4Mul()
      .set(t0);
    b.get(dx).get(dy).v128Load();
    b.f32x4Const(1).get(sv).f32x4Sub().get(t0).f32x4Mul().f32x4Const(1).f32x4Add().get(sv).f32x4Mul();
    b.f32x4Mul().v128Store();
  });
  const swigluForward = elementwise([0, 1, 2, 3], 4, (b) => {
    const [g, u, y, s] = [0, 1, 2, 3];
    const [gv, sv, t0, t1] = [6, 7, 8, 9];
    b.get(g).v128Load().set(gv);
    b.get(gv).f32x4Sigmoid(t0, t1).set(sv);
    b.get(s).get(sv).v128Store();
    b.get(y).get(gv).get(sv).f32x4Mul().get(u).v128Load().f32x4Mul().v128Store();
  });
  const swigluGate = elementwise([0, 1, 2, 3, 4], 5, (b) => {
    const [dy, g, u, s, dg] = [0, 1, 2, 3, 4];
    const [gv, sv] = [7, 8];
    b.get(g).v128Load().set(gv).get(s).v128Load().set(sv);
    b.get(dg).get(dy).v128Load().get(u).v128Load().f32x4Mul().get(sv).f32x4Mul();
    b.f32x4Const(1).get(sv).f32x4Sub().get(gv).f32x4Mul().f32x4Const(1).f32x4Add();
    b.f32x4Mul().v128Store();
  });
  const swigluUp = elementwise([0, 1, 2, 3], 4, (b) => {
    const [dy, g, s, du] = [0, 1, 2, 3];
    b.get(du).get(dy).v128Load().get(g).v128Load().f32x4Mul().get(s).v128Load().f32x4Mul().v128Store();
  });
  // scale(x, out, c, n) and axpy(y, x, c, n): c is param 2, splatted into a v128 local first
  const withSplat = (ptrs: number[], body: (code: Code, cv: number) => void): Code => {
    const code = new Code();
    const cv = 5;
    code.get(2).f32x4Splat().set(cv);
    const rest = elementwise(ptrs, 3, (b) => body(b, cv));
    code.op(...rest.bytes);
    return code;
  };
  const scale = withSplat([0, 1], (b, cv) => b.get(1).get(0).v128Load().get(cv).f32x4Mul().v128Store());
  const axpy = withSplat([0, 1], (b, cv) => b.get(0).get(0).v128Load().get(1).v128Load().get(cv).f32x4Mul().f32x4Add().v128Store());
  const i32s = (n: number): number[] => new Array<number>(n).fill(I32);
  const locals = [I32, V128, V128, V128, V128];
  return moduleBytes([
    { name: 'geluForward', params: i32s(4), locals, code: geluForward },
    { name: 'geluBackward', params: i32s(5), locals, code: geluBackward },
    { name: 'swigluForward', params: i32s(5), locals, code: swigluForward },
    { name: 'swigluGate', params: i32s(6), locals, code: swigluGate },
    { name: 'swigluUp', params: i32s(5), locals, code: swigluUp },
    { name: 'scale', params: [I32, I32, F32, I32], locals, code: scale },
    { name: 'axpy', params: [I32, I32, F32, I32], locals, code: axpy },
  ]);
}

/** The loops of optimizerModule over n floats (n a multiple of 4). */
export interface OptimizerLoops {
  /**
   * One AdamW step (adamw.ts): with gc = clip g, m = b1 m + c1 gc, v = b2 v + c2 gc^2 in place,
   * out = keep w - step m / (sqrt(v) + eps).
   */
  adamw(
    w: number,
    m: number,
    v: number,
    g: number,
    out: number,
    n: number,
    clip: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    keep: number,
    eps: number,
    step: number,
  ): void;
  /** sum of x^2 (float32 lanes). */
  sumSquares(x: number, n: number): number;
}

/** The optimiser loops, as attentionLoops. */
export function optimizerLoops(): OptimizerLoops | undefined {
  return instantiate<OptimizerLoops>('optimizer', optimizerModule);
}

function optimizerModule(): Uint8Array {
  const adamw = new Code();
  {
    const [w, m, v, g, out, n] = [0, 1, 2, 3, 4, 5];
    const i = 14;
    // f32 params 6..13 splatted into v128 locals 15..22
    const splat = (param: number): number => 15 + param - 6;
    for (let p = 6; p <= 13; p++) adamw.get(p).f32x4Splat().set(splat(p));
    const [clip, b1, c1, b2, c2, keep, eps, step] = [6, 7, 8, 9, 10, 11, 12, 13].map(splat) as [number, number, number, number, number, number, number, number];
    const [gv, mv, vv] = [23, 24, 25];
    adamw.i32(0).set(i);
    adamw.get(n).i32(2).op(0x76).set(n);
    adamw.loopUntil(i, n, (b) => {
      b.get(g).v128Load().get(clip).f32x4Mul().set(gv);
      b.get(b1).get(m).v128Load().f32x4Mul().get(c1).get(gv).f32x4Mul().f32x4Add().set(mv);
      b.get(m).get(mv).v128Store();
      b.get(b2).get(v).v128Load().f32x4Mul().get(c2).get(gv).f32x4Mul().get(gv).f32x4Mul().f32x4Add().set(vv);
      b.get(v).get(vv).v128Store();
      b.get(out).get(w).v128Load().get(keep).f32x4Mul();
      b.get(mv).get(vv).f32x4Sqrt().get(eps).f32x4Add().f32x4Div().get(step).f32x4Mul().f32x4Sub().v128Store();
      for (const p of [w, m, v, g, out]) b.incConst(p, 16);
    });
  }
  const sumSquares = new Code();
  {
    const [x, n] = [0, 1];
    const [i, acc, t] = [2, 3, 4];
    sumSquares.v128Zero().set(acc).i32(0).set(i);
    sumSquares.get(n).i32(2).op(0x76).set(n);
    sumSquares.loopUntil(i, n, (b) => {
      b.get(x).v128Load().set(t).get(acc).get(t).get(t).f32x4Mul().f32x4Add().set(acc);
      b.incConst(x, 16);
    });
    sumSquares.get(acc).hsum(t);
  }
  const v128s = (k: number): number[] => new Array<number>(k).fill(V128);
  return moduleBytes([
    { name: 'adamw', params: [I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32], locals: [I32, ...v128s(11)], code: adamw },
    { name: 'sumSquares', params: [I32, I32], locals: [I32, V128, V128], results: [F32], code: sumSquares },
  ]);
}
