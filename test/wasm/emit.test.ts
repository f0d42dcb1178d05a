/**
 * The runtime WebAssembly emitter (core/wasm/emit.ts) and the kernels built with it. A kernel
 * that fails to build is not an error where it runs (the callers fall back to their JS loops),
 * so these tests are what notices: each kernel must build where its tests expect it to run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/models/backend.js';
import { attentionLoops, normLoops, simdLoops } from '../../core/models/simd.js';
import { activationLoops, optimizerLoops } from '../../core/models/simd-elementwise.js';
import { Code, I32, I64, moduleBytes, sleb, uleb, wasmGlobal } from '../../core/wasm/emit.js';

describe('the emitter', () => {
  it('writes LEB128 as the WebAssembly binary format does', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });

  it('builds a module that imports env.memory and runs: constants, locals, a loop, memory', () => {
    if (!wasmGlobal) throw new Error('no WebAssembly in this runtime');
    // sumTo(n): stores 1 + 2 + ... + n - 100000 at byte 8 and returns it; wide(x): x * 2^40 as i64
    const [n, i, total] = [0, 1, 2];
    const sumTo = new Code().i32(1).set(i).i32(-100000).set(total);
    sumTo.op(0x02, 0x40, 0x03, 0x40).get(i).get(n).op(0x4a).op(0x0d, 1); // block, loop; i > n (signed): leave
    sumTo.incBy(total, i).incConst(i, 1).op(0x0c, 0, 0x0b, 0x0b); // br 0, end, end
    sumTo.i32(8).get(total).op(0x36, 2, 0).get(total); // i32.store
    const wide = new Code()
      .get(0)
      .op(0xac)
      .i64(1n << 40n)
      .op(0x7e); // i64.extend_i32_s, i64.mul
    const bytes = moduleBytes([
      { name: 'sumTo', params: [I32], locals: [I32, I32], results: [I32], code: sumTo },
      { name: 'wide', params: [I32], locals: [], results: [I64], code: wide },
    ]);
    const memory = new wasmGlobal.Memory({ initial: 1 });
    const exports = new wasmGlobal.Instance(new wasmGlobal.Module(bytes), { env: { memory } }).exports as { sumTo(n: number): number; wide(x: number): bigint };
    expect(exports.sumTo(1000)).toBe(500500 - 100000);
    expect(new Int32Array(memory.buffer)[2]).toBe(400500);
    expect(exports.wide(-3)).toBe(-3n * (1n << 40n));
  });
});

describe('the model kernels (core/models/simd.ts)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    simdLoops.enabled = true;
  });

  it('build on the wasm backend at the shipped sizes', () => {
    for (const hd of [4, 8, 24, 32]) expect(attentionLoops(hd), `attention, head size ${hd}`).toBeDefined();
    for (const d of [8, 64, 96]) for (const centred of [true, false]) expect(normLoops(d, centred), `norm ${d} ${centred}`).toBeDefined();
    expect(activationLoops()).toBeDefined();
    expect(optimizerLoops()).toBeDefined();
  });
});
