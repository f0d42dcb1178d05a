import { Unpackr, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../core/protocol/codec.js';
import type { Envelope } from '../../core/protocol/messages.js';
import { ProtocolError } from '../../core/protocol/protocol-error.js';
import { Random } from '../../core/random.js';
import { bitsOf, context, envelope, everyMessage, forge, makeLogits } from './fixtures.js';
import { readGenericMsgpack } from './generic-msgpack.js';

/** Every typed array of a value, with its path, in a stable order. */
function typedArrays(value: unknown, path = ''): [string, ArrayBufferView][] {
  if (ArrayBuffer.isView(value)) return [[path, value]];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => typedArrays(item, `${path}.${key}`));
}

function expectExactCopy(decoded: Envelope, original: Envelope): void {
  expect(decoded).toEqual(original);
  const got = typedArrays(decoded);
  const want = typedArrays(original);
  expect(got.map(([path, a]) => [path, a.constructor.name])).toEqual(want.map(([path, a]) => [path, a.constructor.name]));
  got.forEach(([path, array], i) => {
    expect(bitsOf(array), path).toEqual(bitsOf((want[i] as [string, ArrayBufferView])[1]));
  });
}

describe('encodeMessage / decodeMessage', () => {
  it.each(everyMessage().map((env) => [env.body.type, env] as const))('round-trips %s exactly', (_type, env) => {
    expectExactCopy(decodeMessage(encodeMessage(env), context), env);
  });

  it('keeps -0, subnormals and ids up to 2^31 - 1 bit-exact', () => {
    const [, slm, llm] = everyMessage();
    const a = decodeMessage(encodeMessage(slm as Envelope), context);
    const b = decodeMessage(encodeMessage(llm as Envelope), context);
    if (a.body.type !== 'slm-logits' || b.body.type !== 'llm-logits') throw new Error('fixture order changed');
    expect(Object.is(a.body.logits.topKLogits[3], -0)).toBe(true);
    expect(Object.is(a.body.logits.ce[0], -0)).toBe(true);
    expect(a.body.logits.topKLogits[7]).toBe(Math.fround(1e-45));
    expect(b.body.logits.topKIds[0]).toBe(2_099_999_999);
    expect(b.body.logits.tokenIds[1]).toBe(2_000_000_000);
  });

  it('reads integers of every width back as numbers (a wall-clock deadline is above 2^32 ms)', () => {
    for (const uploadDeadline of [
      0,
      127,
      128,
      255,
      65_535,
      65_536,
      2 ** 32 - 1,
      2 ** 32,
      1_795_616_837_707,
      -1,
      -33,
      -129,
      -32_769,
      -(2 ** 31),
      -(2 ** 31) - 1,
      2 ** 53 - 1,
    ]) {
      const decoded = decodeMessage(encodeMessage(envelope({ type: 'round-start', uploadDeadline })), context);
      expect(decoded.body, String(uploadDeadline)).toEqual({ type: 'round-start', uploadDeadline });
    }
  });

  it('places every array at an aligned offset and decodes it as a view of the message, copying nothing', () => {
    for (const env of everyMessage()) {
      const bytes = encodeMessage(env);
      const decoded = decodeMessage(bytes, context);
      for (const [path, array] of typedArrays(decoded)) {
        if (env.body.type.endsWith('logits') || path.endsWith('.values')) expect(array.buffer, `${env.body.type} ${path}`).toBe(bytes.buffer);
        expect(array.byteOffset % (array as Int32Array).BYTES_PER_ELEMENT, path).toBe(0);
      }
    }
  });

  it('copies the arrays of a message msgpackr packed (unaligned), and other msgpackr users still get copies', () => {
    const env = everyMessage()[1] as Envelope;
    if (env.body.type !== 'slm-logits') throw new Error('fixture order changed');
    const forged = forge({ v: env.v, run: env.run, round: env.round, sender: env.sender, id: env.id, body: env.body });
    const decoded = decodeMessage(forged, context);
    expectExactCopy(decoded, env);
    for (const [path, array] of typedArrays(decoded)) expect(array.byteOffset % (array as Int32Array).BYTES_PER_ELEMENT, path).toBe(0);
    const bytes = encodeMessage(env);
    const plain = unpack(bytes) as { body: { logits: { topKLogits: Float32Array } } };
    expect(plain.body.logits.topKLogits.buffer).not.toBe(bytes.buffer);
    expect(plain.body.logits.topKLogits).toEqual(env.body.logits.topKLogits);
  });

  it('decodes a message that sits at an odd offset inside a larger buffer', () => {
    const env = everyMessage()[2] as Envelope;
    const bytes = encodeMessage(env);
    const host = new Uint8Array(bytes.length + 7);
    host.set(bytes, 3);
    expectExactCopy(decodeMessage(host.subarray(3, 3 + bytes.length), context), env);
  });

  it('encodes views into larger buffers by their own bytes only', () => {
    const random = new Random(5);
    const logits = makeLogits(random, 3, 4, 2);
    const padded = new Float32Array(logits.topKLogits.length + 10).fill(Number.NaN);
    padded.set(logits.topKLogits, 5);
    const env = envelope({ type: 'slm-logits', logits: { ...logits, topKLogits: padded.subarray(5, 5 + logits.topKLogits.length) } });
    const decoded = decodeMessage(encodeMessage(env), context);
    if (decoded.body.type !== 'slm-logits') throw new Error('type');
    expect(decoded.body.logits.topKLogits).toEqual(logits.topKLogits);
  });

  it('gives each message its own buffer with nothing stale past the message', () => {
    const [first, second] = everyMessage();
    const a = encodeMessage(first as Envelope);
    const b = encodeMessage(second as Envelope);
    expect(a.buffer).not.toBe(b.buffer);
    expect(new Uint8Array(a.buffer, a.byteOffset + a.length).every((x) => x === 0)).toBe(true);
  });
});

describe('the wire format is standard msgpack', () => {
  it.each(everyMessage().map((env) => [env.body.type, env] as const))(
    '%s: a generic msgpack reader walks every byte and reads the plain fields',
    (_type, env) => {
      const bytes = encodeMessage(env);
      const wire = readGenericMsgpack(bytes) as Record<string, unknown>;
      expect(Object.keys(wire)).toEqual(['v', 'run', 'round', 'sender', 'id', 'body', 'sum']);
      expect([wire.v, wire.run, wire.round, wire.sender, wire.id]).toEqual([env.v, env.run, env.round, env.sender, env.id]);
      expect((wire.body as { type: string }).type).toBe(env.body.type);
      expect(wire.sum).toBeInstanceOf(Uint8Array);
    },
  );

  it('msgpackr without moreTypes, and its plain unpack, read the envelope', () => {
    const env = everyMessage()[1] as Envelope;
    const bytes = encodeMessage(env);
    for (const raw of [new Unpackr({ useRecords: false }).unpack(bytes), unpack(bytes)] as Record<string, unknown>[]) {
      expect(raw.sender).toBe('c2');
      expect(raw.round).toBe(3);
      expect((raw.body as { type: string }).type).toBe('slm-logits');
    }
  });
});

describe('corruption is refused, never decoded as another message', () => {
  const messages = everyMessage(11).map((env) => encodeMessage(env));

  it('flipping 1 to 4 random bytes always throws ProtocolError (seeded, 3000 trials)', () => {
    const random = new Random(0xf11b);
    const codes = new Map<string, number>();
    for (let trial = 0; trial < 3000; trial++) {
      const original = messages[trial % messages.length] as Uint8Array;
      const bytes = original.slice();
      const flips = 1 + random.int(4);
      for (let f = 0; f < flips; f++) {
        const at = random.int(bytes.length);
        bytes[at] = (bytes[at] as number) ^ (1 + random.int(255));
      }
      let outcome: unknown;
      try {
        outcome = decodeMessage(bytes, context);
      } catch (error) {
        outcome = error;
      }
      // A flip undone by a later flip at the same byte leaves the original; that must decode.
      if (bytes.every((b, i) => b === original[i])) continue;
      expect(outcome, `trial ${trial}`).toBeInstanceOf(ProtocolError);
      const code = (outcome as ProtocolError).code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect([...codes.keys()].sort()).toEqual(expect.arrayContaining(['corrupted', 'truncated']));
  });

  it('every truncation throws ProtocolError', () => {
    const bytes = messages[1] as Uint8Array;
    for (let cut = 0; cut < bytes.length; cut += 1 + (cut >> 4)) {
      expect(() => decodeMessage(bytes.subarray(0, cut), context), `cut at ${cut}`).toThrow(ProtocolError);
    }
  });
});
