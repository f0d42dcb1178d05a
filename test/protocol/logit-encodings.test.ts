import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type LogitEncoding } from '../../core/protocol/codec.js';
import { decodeFloat16, dequantiseLogProbs, encodeFloat16, narrowIds, quantiseLogProbs } from '../../core/protocol/logit-encodings.js';
import type { Envelope, PublicLogits, SlmLogitsBody } from '../../core/protocol/messages.js';
import { ProtocolError } from '../../core/protocol/protocol-error.js';
import { Random } from '../../core/random.js';
import { context, envelope, forge, makeLogits, wireLogits } from './fixtures.js';

const never = (i: number, problem: string): never => {
  throw new Error(`[${i}] ${problem}`);
};

describe('float16', () => {
  it('maps every finite half to a float and back to itself', () => {
    const halves = new Uint16Array(65536).map((_, h) => h).filter((h) => ((h >>> 10) & 0x1f) !== 0x1f);
    expect(halves.length).toBe(63488);
    expect(encodeFloat16(decodeFloat16(halves), never)).toEqual(halves);
  });

  it('rounds to the nearest half, ties to even, within 2^-11 relative (2^-25 absolute below 2^-14)', () => {
    const random = new Random(16);
    const values = new Float32Array(20_000).map((_, i) => {
      const magnitude = 2 ** (random.next() * 40 - 26); // 2^-26 .. 2^14
      return (i % 2 ? -1 : 1) * magnitude;
    });
    values.set([1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 3 * 2 ** -25, 65519, -65504, 2 ** -14 - 2 ** -25]);
    const halves = encodeFloat16(values, never);
    const decoded = decodeFloat16(halves);
    const table = decodeFloat16(new Uint16Array(65536).map((_, h) => h));
    values.forEach((x, i) => {
      const h = halves[i] as number;
      const y = decoded[i] as number;
      const error = Math.abs(x - y);
      for (const neighbour of [h - 1, h + 1]) {
        if ((neighbour & 0x7fff) >= 0x7c00 || (neighbour & 0x8000) !== (h & 0x8000)) continue;
        const other = Math.abs(x - (table[neighbour] as number));
        expect(error <= other, `x=${x}: ${y} is not the nearest half`).toBe(true);
        if (error === other) expect(h % 2, `x=${x}: tie not to even`).toBe(0);
      }
      expect(error).toBeLessThanOrEqual(Math.abs(x) >= 2 ** -14 ? Math.abs(x) * 2 ** -11 : 2 ** -25);
    });
    expect([decoded[0], decoded[1], decoded[2], decoded[3], decoded[4], decoded[6]]).toEqual([1, 1 + 4 * 2 ** -11, 0, 4 * 2 ** -25, 65504, 2 ** -14]);
  });

  it('refuses values float16 cannot hold, naming the entry', () => {
    expect(() => encodeFloat16(Float32Array.of(1, 65520), never)).toThrow('[1] = 65520 is outside the float16 range (|x| < 65520)');
    expect(() => encodeFloat16(Float32Array.of(Number.NaN), never)).toThrow('[0] is NaN');
    expect(() => encodeFloat16(Float32Array.of(0, -Infinity), never)).toThrow('[1] is -Infinity');
  });
});

/** log-softmax of each position's K logits, in double precision. */
function logSoftmax(logits: Float32Array, topK: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let base = 0; base < logits.length; base += topK) {
    const row = Array.from(logits.subarray(base, base + topK));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    row.forEach((v, j) => (out[base + j] = v - lse));
  }
  return out;
}

describe('q8 log-probabilities', () => {
  it('stays within half a step plus float32 rounding of the exact log-softmax', () => {
    const random = new Random(8);
    for (const [topK, spread] of [
      [16, 2],
      [128, 0.5],
      [4, 40],
      [2, 1e-4],
    ] as const) {
      const logits = new Float32Array(300 * topK).map(() => random.normal() * spread * 5 + 3);
      const q = quantiseLogProbs(logits, topK, never);
      const decoded = dequantiseLogProbs(q, topK);
      const exact = logSoftmax(logits, topK);
      for (let p = 0; p < 300; p++) {
        const step = q.scale[p] as number;
        const lowest = q.offset[p] as number;
        for (let j = p * topK; j < (p + 1) * topK; j++) {
          const bound = step / 2 + 2 ** -22 * (1 + Math.abs(lowest));
          expect(Math.abs((decoded[j] as number) - (exact[j] as number)), `K=${topK} entry ${j}`).toBeLessThanOrEqual(bound);
        }
      }
    }
  });

  it('keeps the teacher distribution: KL(original || decoded) per position stays below 1e-3 nats', () => {
    const random = new Random(9);
    const topK = 128;
    const logits = new Float32Array(50 * topK).map(() => random.normal() * 3);
    const decoded = dequantiseLogProbs(quantiseLogProbs(logits, topK, never), topK);
    const exact = logSoftmax(logits, topK);
    for (let base = 0; base < logits.length; base += topK) {
      const q = Array.from(decoded.subarray(base, base + topK), Math.exp);
      const z = q.reduce((a, b) => a + b, 0);
      let kl = 0;
      for (let j = 0; j < topK; j++) kl += Math.exp(exact[base + j] as number) * ((exact[base + j] as number) - Math.log((q[j] as number) / z));
      expect(kl, `position ${base / topK}`).toBeLessThan(1e-3);
    }
  });

  it('handles one entry per position and all-equal positions exactly', () => {
    const one = dequantiseLogProbs(quantiseLogProbs(Float32Array.of(5, -3, 1e4), 1, never), 1);
    expect(Array.from(one)).toEqual([0, 0, 0]);
    const equal = dequantiseLogProbs(quantiseLogProbs(new Float32Array(8).fill(2.5), 4, never), 4);
    equal.forEach((v) => expect(v).toBeCloseTo(-Math.log(4), 6));
  });

  it('refuses non-finite logits, naming the entry', () => {
    expect(() => quantiseLogProbs(Float32Array.of(1, 2, 3, Number.NaN), 2, never)).toThrow('[3] is NaN');
  });
});

describe('narrowIds', () => {
  it('picks the narrowest unsigned array, else keeps Int32Array', () => {
    expect(narrowIds(Int32Array.of(0, 255))).toEqual(Uint8Array.of(0, 255));
    expect(narrowIds(Int32Array.of(0, 256, 65535))).toEqual(Uint16Array.of(0, 256, 65535));
    expect(narrowIds(Int32Array.of(3, 65536))).toBeInstanceOf(Int32Array);
    expect(narrowIds(Int32Array.of(3, -1))).toBeInstanceOf(Int32Array);
  });
});

describe('compact encodings through the codec', () => {
  const random = new Random(21);
  const upload = (tokenizer: string): Envelope<SlmLogitsBody> => envelope({ type: 'slm-logits', logits: makeLogits(random, 20, 30, 16, tokenizer) });
  const bodyLogits = (env: Envelope): PublicLogits => (env.body as SlmLogitsBody).logits;

  it.each([
    ['f16', 'llama2', Uint16Array, Uint16Array],
    ['q8', 'llama2', Uint8Array, Uint16Array],
    ['q8', 'tiny', Uint8Array, Uint8Array],
    ['f16', 'huge', Uint16Array, Int32Array],
  ] as const)('%s with %s ids: wire arrays narrowed, decoded as Float32Array / Int32Array', (encoding, tokenizer, logitArray, idArray) => {
    const env = upload(tokenizer);
    const bytes = encodeMessage(env, { logits: encoding });
    const wire = (unpack(bytes) as { body: { logits: Record<string, unknown> } }).body.logits;
    expect(wire.logitEncoding).toBe(encoding);
    expect(wire.topKLogits).toBeInstanceOf(logitArray);
    expect(wire.topKIds).toBeInstanceOf(idArray);
    expect(wire.tokenIds).toBeInstanceOf(idArray);

    const got = bodyLogits(decodeMessage(bytes, context));
    const want = bodyLogits(env);
    expect(got.topKLogits).toBeInstanceOf(Float32Array);
    expect(got.topKIds).toBeInstanceOf(Int32Array);
    expect(got.tokenIds).toBeInstanceOf(Int32Array);
    expect({ ...got, topKLogits: null }).toEqual({ ...want, topKLogits: null });
    const reference = encoding === 'q8' ? logSoftmax(want.topKLogits, want.topK) : want.topKLogits;
    const tolerance = encoding === 'q8' ? 0.2 : 2 ** -11 * 40;
    got.topKLogits.forEach((v, i) => expect(Math.abs(v - (reference[i] as number))).toBeLessThanOrEqual(tolerance));
  });

  it('shrinks a round (K = 16): f16 + u16 ids to about 1/2 of f32, q8 + u16 ids to about 0.44', () => {
    const env = upload('llama2');
    const positions = bodyLogits(env).tokenIds.length;
    const size = (encoding: LogitEncoding) => encodeMessage(env, { logits: encoding }).length;
    // Per position, f32: 16 * (4 + 4) + 4 = 132 bytes; f16: 16 * (2 + 2) + 2 = 66; q8: 16 * (1 + 2) + 8 + 2 = 58.
    // The rest (header, lengths, ce, keys) is the same but for a few keys and ext headers.
    const rest = size('f32') - positions * 132;
    expect(Math.abs(size('f16') - (rest + positions * 66))).toBeLessThan(64);
    expect(Math.abs(size('q8') - (rest + positions * 58))).toBeLessThan(96);
  });

  it('can keep Int32Array ids with narrowIds: false, or narrow them under f32', () => {
    const env = upload('llama2');
    const wire = (bytes: Uint8Array) => (unpack(bytes) as { body: { logits: Record<string, unknown> } }).body.logits;
    expect(wire(encodeMessage(env, { logits: 'f16', narrowIds: false })).topKIds).toBeInstanceOf(Int32Array);
    const narrowed = encodeMessage(env, { narrowIds: true });
    expect(wire(narrowed).topKIds).toBeInstanceOf(Uint16Array);
    expect(decodeMessage(narrowed, context)).toEqual(env);
  });

  it('refuses to send what float16 cannot hold', () => {
    const env = upload('llama2');
    bodyLogits(env).topKLogits[5] = 70_000;
    expect(() => encodeMessage(env, { logits: 'f16' })).toThrow(
      'encoding slm-logits from c2 (round 3): topKLogits[5] = 70000 is outside the float16 range (|x| < 65520)',
    );
    expect(() => encodeMessage(env, { logits: 'bf16' as LogitEncoding })).toThrow(
      `encoding slm-logits from c2 (round 3): logits unknown logit encoding "bf16" (use 'f32', 'f16' or 'q8')`,
    );
  });

  describe('refuses bad compact payloads', () => {
    const base = envelope({
      type: 'slm-logits',
      logits: {
        tokenizer: 'llama2',
        topK: 2,
        lengths: Int32Array.of(2),
        tokenIds: Int32Array.of(1, 2),
        topKIds: Int32Array.of(1, 2, 3, 4),
        topKLogits: new Float32Array(4),
        ce: Float32Array.of(1),
      },
    });
    const refuse = (patch: Record<string, unknown>) => {
      try {
        decodeMessage(forge(wireLogits(base, patch)), context);
      } catch (error) {
        if (error instanceof ProtocolError) return `${error.code}: ${error.message}`;
        throw error;
      }
      throw new Error('decoded');
    };
    it.each([
      [{ logitEncoding: 'f16', topKLogits: Uint16Array.of(0x3c00, 0x7e00, 0, 0) }, 'non-finite: slm-logits from c2 (round 3): topKLogits[1] is NaN'],
      [
        { logitEncoding: 'f16', topKLogits: Uint16Array.of(0x3c00, 0) },
        'shape: slm-logits from c2 (round 3): topKLogits has 2 entries, expected 4 (sum(lengths) 2 * topK 2)',
      ],
      [{ logitEncoding: 'f16' }, 'ill-typed: slm-logits from c2 (round 3): topKLogits must be a Uint16Array, got a Float32Array'],
      [
        { logitEncoding: 'q8', topKLogits: new Uint8Array(4), logitOffset: new Float32Array(2) },
        'missing-field: slm-logits from c2 (round 3): logitScale is missing',
      ],
      [
        { logitEncoding: 'q8', topKLogits: new Uint8Array(4), logitScale: Float32Array.of(0.1, -0.1), logitOffset: new Float32Array(2) },
        'out-of-range: slm-logits from c2 (round 3): logitScale[1] is -0.10000000149011612, a negative step',
      ],
      [
        { logitEncoding: 'q8', topKLogits: new Uint8Array(4), logitScale: Float32Array.of(0.1), logitOffset: new Float32Array(2) },
        'shape: slm-logits from c2 (round 3): logitScale has 1 entries, expected 2 (one per position)',
      ],
      [
        { logitEncoding: 'q8', topKLogits: new Uint8Array(4), logitScale: Float32Array.of(0.1, 0.1), logitOffset: Float32Array.of(0, Infinity) },
        'non-finite: slm-logits from c2 (round 3): logitOffset[1] is Infinity',
      ],
    ])('%j', (patch, expected) => {
      expect(refuse(patch)).toBe(expected);
    });
  });
});
