import { xxhash64 } from 'hash-wasm';
import { afterEach, describe, expect, it } from 'vitest';
import xxhashWasm from 'xxhash-wasm';
import { decodeMessage, encodeMessage } from '../../core/protocol/codec.js';
import { ChecksumWriter, FLOAT_MAGNITUDE, hexOf, NON_FINITE_BITS, scanMessage, usePortableScan, WHOLE_WORD } from '../../core/protocol/message-scan.js';
import { ProtocolError } from '../../core/protocol/protocol-error.js';
import { Random } from '../../core/random.js';
import { context, envelope, makeLogits } from './fixtures.js';

/** XXH64 (seed 0) of `bytes` as canonical hex, by two other maintained implementations that must agree. */
async function referenceChecksums(bytes: Uint8Array): Promise<[string, string]> {
  const fromXxhashWasm = (await xxhashWasm()).h64Raw(bytes).toString(16).padStart(16, '0');
  return [fromXxhashWasm, await xxhash64(bytes)];
}

function randomBytes(random: Random, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = random.int(256);
  return bytes;
}

const hex = hexOf;

afterEach(() => usePortableScan(false));

describe('the XXH64 checksum', () => {
  it("is the xxHash specification's test vectors, canonical (big-endian)", () => {
    const ascii = (text: string) => new TextEncoder().encode(text);
    expect(hex(scanMessage(new Uint8Array(0), 0).checksum)).toBe('ef46db3751d8e999');
    expect(hex(scanMessage(ascii('abc'), 3).checksum)).toBe('44bc2cf5ad770999');
  });

  it.each([false, true])(
    'equals two other implementations at every length around the stripe and chunk edges, with and without ranges (portable: %s)',
    async (portable) => {
      usePortableScan(portable);
      const random = new Random(11);
      for (const n of [0, 1, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 100, 4095]) {
        const bytes = randomBytes(random, n);
        const [expected, agreed] = await referenceChecksums(bytes);
        expect(agreed, `n = ${n}`).toBe(expected);
        expect(hex(scanMessage(bytes, n).checksum), `n = ${n}`).toBe(expected);
        const ranges = n >= 4 ? [{ offset: 0, words: n >> 2, mask: WHOLE_WORD }] : [];
        expect(hex(scanMessage(bytes, n, ranges).checksum), `n = ${n}, one range`).toBe(expected);
      }
      // across the 1 MiB scan memory: several chunks and a ragged last one, with a range in the second only
      const big = randomBytes(random, 2 * (1 << 20) + 37);
      const [expected] = await referenceChecksums(big);
      expect(hex(scanMessage(big, big.length).checksum)).toBe(expected);
      expect(hex(scanMessage(big, big.length, [{ offset: (1 << 20) + 8, words: 3, mask: WHOLE_WORD }]).checksum)).toBe(expected);
    },
  );

  it('hashes only the first `end` bytes, and the same whether written in pieces or at once', async () => {
    const random = new Random(12);
    const bytes = randomBytes(random, 3 * (1 << 20) + 100);
    const end = bytes.length - 8;
    const whole = hex(scanMessage(bytes, end).checksum);
    expect(whole).toBe((await referenceChecksums(bytes.subarray(0, end)))[0]);
    const writer = new ChecksumWriter(bytes);
    for (const to of [5, 16, 1000, 1 << 20, (1 << 20) + 3, 2 * (1 << 20) + 48]) writer.written(to);
    expect(hex(writer.finish(end))).toBe(whole);
    const past = new ChecksumWriter(bytes);
    past.written(end + 1);
    expect(() => past.finish(end)).toThrow(/hashed as final, more than/);
  });

  it('changes with any change to one byte, two cancelling changes, and swapped blocks', () => {
    const random = new Random(13);
    const bytes = randomBytes(random, 4096);
    const base = hex(scanMessage(bytes, bytes.length).checksum);
    for (let at = 0; at < bytes.length; at += 7) {
      const copy = bytes.slice();
      copy[at] = (copy[at] as number) ^ (1 + random.int(255));
      expect(hex(scanMessage(copy, copy.length).checksum), `byte ${at}`).not.toBe(base);
    }
    // +x in one word and -x in another: a sum of the words would not see it
    for (const [i, j] of [
      [0, 4],
      [1, 1021],
      [2, 514],
    ] as const) {
      const copy = bytes.slice();
      const view = new DataView(copy.buffer);
      view.setUint32(4 * i, (view.getUint32(4 * i, true) + 0x80000000) >>> 0, true);
      view.setUint32(4 * j, (view.getUint32(4 * j, true) - 0x80000000) >>> 0, true);
      expect(hex(scanMessage(copy, copy.length).checksum), `words ${i}, ${j}`).not.toBe(base);
    }
    const swapped = bytes.slice();
    swapped.set(bytes.subarray(32, 64), 0);
    swapped.set(bytes.subarray(0, 32), 32);
    expect(hex(scanMessage(swapped, swapped.length).checksum)).not.toBe(base);
  });
});

describe('range maxima', () => {
  it.each([false, true])('are the largest masked word of each range, across chunks (portable: %s)', (portable) => {
    usePortableScan(portable);
    const n = (1 << 20) + 4096;
    const words = new Uint32Array(n / 4);
    const floats = new Float32Array(words.buffer);
    for (let i = 0; i < words.length; i++) floats[i] = i % 2 ? -1.5 : 0.25;
    const bytes = new Uint8Array(words.buffer);
    words[(1 << 18) + 5] = 0xffc00000; // -NaN, just past the first chunk
    words[3] = 0xfffffff0; // as an id: -16
    const ranges = [
      { offset: 0, words: 2, mask: FLOAT_MAGNITUDE },
      { offset: 0, words: 4, mask: WHOLE_WORD },
      { offset: 1 << 20, words: 1023, mask: FLOAT_MAGNITUDE },
      { offset: 8, words: 0, mask: WHOLE_WORD },
    ];
    const { largest } = scanMessage(bytes, n, ranges);
    expect(largest[0]).toBe(0x3fc00000); // |-1.5|
    expect(largest[1]).toBe(0xfffffff0);
    expect(largest[2]).toBeGreaterThanOrEqual(NON_FINITE_BITS);
    expect(largest[3]).toBe(0);
  });

  it('refuses ranges that are unaligned or reach past the end', () => {
    const bytes = new Uint8Array(64);
    expect(() => scanMessage(bytes, 64, [{ offset: 2, words: 1, mask: WHOLE_WORD }])).toThrow(/not aligned words/);
    expect(() => scanMessage(bytes, 60, [{ offset: 56, words: 2, mask: WHOLE_WORD }])).toThrow(/within the first 60 bytes/);
  });
});

describe('the codec on the portable loops', () => {
  it('writes the same bytes and refuses the same NaN as on SIMD', () => {
    const env = envelope({ type: 'slm-logits', logits: makeLogits(new Random(3), 6, 9, 4) });
    const simd = encodeMessage(env);
    usePortableScan(true);
    expect(hex(encodeMessage(env))).toBe(hex(simd));
    expect(decodeMessage(simd, context).body).toEqual(env.body);
    if (env.body.type !== 'slm-logits') throw new Error('type');
    env.body.logits.topKLogits[5] = Number.NaN;
    for (const portable of [true, false]) {
      usePortableScan(portable);
      const error = (() => {
        try {
          decodeMessage(encodeMessageUnchecked(env), context);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).message).toMatch(/topKLogits\[5\] is NaN$/);
    }
  });
});

/** The sender refuses NaN logits; a hostile one would not: NaN written straight into a valid message. */
function encodeMessageUnchecked(env: ReturnType<typeof envelope>): Uint8Array {
  if (env.body.type !== 'slm-logits') throw new Error('type');
  const values = env.body.logits.topKLogits;
  const nanAt = values.findIndex((v) => Number.isNaN(v));
  const clean = values.slice();
  clean[nanAt] = 12345.5;
  const bytes = encodeMessage({ ...env, body: { ...env.body, logits: { ...env.body.logits, topKLogits: clean } } });
  const pattern = new Uint8Array(Float32Array.of(12345.5).buffer);
  const at = Buffer.from(bytes).indexOf(Buffer.from(pattern));
  new DataView(bytes.buffer, bytes.byteOffset).setFloat32(at, Number.NaN, true);
  const end = bytes.length - 8;
  bytes.set(scanMessage(bytes, end).checksum, end);
  return bytes;
}
