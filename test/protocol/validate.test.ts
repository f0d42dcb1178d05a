import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../core/protocol/codec.js';
import type { Envelope, PublicLogits, SlmLogitsBody } from '../../core/protocol/messages.js';
import { ProtocolError, type ProtocolErrorCode } from '../../core/protocol/protocol-error.js';
import { Random } from '../../core/random.js';
import { context, envelope, everyMessage, forge, makeLogits, wireLogits, wireOf, withValidChecksum } from './fixtures.js';

/** The key of an own property named __proto__ (as JSON.parse makes one), not the prototype accessor. */
const OWN_PROTO = '__proto__';

function refusal(bytes: Uint8Array, ctx = context): ProtocolError {
  try {
    decodeMessage(bytes, ctx);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw new Error(`expected a ProtocolError, got ${String(error)}`);
  }
  throw new Error('expected the message to be refused, it was decoded');
}

function expectRefusal(bytes: Uint8Array, code: ProtocolErrorCode, message: string | RegExp, path?: string, ctx = context): void {
  const error = refusal(bytes, ctx);
  expect(error.code).toBe(code);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
  if (path !== undefined) expect(error.path).toBe(path);
}

/** An slm-logits upload from c2 in round 3: 3 samples of lengths 2, 1, 3; topK 2. */
function upload(): Envelope<SlmLogitsBody> {
  const logits: PublicLogits = {
    tokenizer: 'llama2',
    topK: 2,
    lengths: Int32Array.of(2, 1, 3),
    tokenIds: Int32Array.of(1, 2, 3, 4, 5, 6),
    topKIds: Int32Array.of(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21),
    topKLogits: Float32Array.of(9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2),
    ce: Float32Array.of(0.5, 1.5, 2.5),
  };
  return envelope({ type: 'slm-logits', logits });
}

describe('framing', () => {
  const good = encodeMessage(upload());

  it('refuses a message over maxBytes before reading it', () => {
    expectRefusal(good, 'oversized', `message of ${good.length} bytes: over the limit of 100 bytes, refused unread`, '', { ...context, maxBytes: 100 });
    expect(decodeMessage(good, { ...context, maxBytes: good.length }).sender).toBe('c2');
  });

  it('refuses bytes that are not a msgpack map', () => {
    expectRefusal(new TextEncoder().encode('{"v":1}'), 'malformed', 'message of 7 bytes: not a FedMKT envelope (first byte 0x7b, expected a msgpack map)');
    expectRefusal(new Uint8Array(0), 'malformed', 'message of 0 bytes: not a FedMKT envelope (empty, expected a msgpack map)');
  });

  it('refuses a truncated message', () => {
    const cut = good.subarray(0, good.length - 3);
    expectRefusal(cut, 'truncated', `message of ${cut.length} bytes: no sum entry at the end: truncated, or its last 14 bytes are corrupted`, 'sum');
  });

  it('refuses a corrupted message even where it still parses', () => {
    const bytes = good.slice();
    // The last logit, -2 = 0xc0000000 little-endian: make it -3 = 0xc0400000, still valid msgpack.
    const logits = upload().body.logits.topKLogits;
    const at = Buffer.from(bytes).indexOf(Buffer.from(logits.buffer)) + logits.byteLength - 2;
    expect([bytes[at], bytes[at + 1]]).toEqual([0x00, 0xc0]);
    bytes[at] = 0x40;
    const forged = decodeMessage(forge({ ...wireLogits(upload(), { topKLogits: Float32Array.of(9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -3) }) }), context);
    expect(forged.body.type).toBe('slm-logits');
    const error = refusal(bytes);
    expect(error.code).toBe('corrupted');
    expect(error.message).toMatch(/^message of \d+ bytes: checksum mismatch \(carried [0-9a-f]{16}, computed [0-9a-f]{16}\): corrupted in transit$/);
  });

  it('refuses an unknown protocol version, before the integrity check', () => {
    const bytes = encodeMessage({ ...upload(), v: 4 as 3 });
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    expectRefusal(bytes, 'unknown-version', /: v is 4, an unknown protocol version \(this build speaks 3\)$/, 'v');
  });

  it('refuses a non-Uint8Array argument', () => {
    expect(() => decodeMessage('hello' as unknown as Uint8Array, context)).toThrow(/expected the message as a Uint8Array, got string/);
  });

  it('refuses broken msgpack even behind a matching checksum', () => {
    const bytes = forge(wireOf(upload()));
    bytes[0] = 0xdf; // map32: the 4-byte count swallows the first key, and the map runs past the end
    expectRefusal(withValidChecksum(bytes), 'malformed', /^message of \d+ bytes: not valid msgpack: .+/);
  });
});

describe('envelope', () => {
  it('refuses an unknown message type', () => {
    const bytes = forge({ ...wireOf(upload()), body: { type: 'gossip' } });
    expectRefusal(
      bytes,
      'unknown-type',
      /^message of \d+ bytes: body\.type is the string "gossip", not a message type \(round-start, slm-logits, llm-logits, adapter, adapter-average, finish, finish-ack\)$/,
      'body.type',
    );
  });

  it('refuses a sender outside the scenario', () => {
    expectRefusal(
      forge({ ...wireOf(upload()), sender: 'c9' }),
      'unknown-sender',
      'slm-logits from c9 (round 3): sender "c9" is not in the scenario (server, c1, c2, c3)',
      'sender',
    );
  });

  it('refuses a client broadcasting and the server uploading', () => {
    expectRefusal(
      forge({ ...wireOf(upload()), sender: 'server' }),
      'wrong-sender',
      'slm-logits from server (round 3): sender "server" may not upload slm-logits: only clients do',
    );
    const finish = envelope({ type: 'finish', reason: 'completed' });
    expectRefusal(
      encodeMessage({ ...finish, sender: 'c1' }),
      'wrong-sender',
      'finish from c1 (round 3): sender "c1" may not send finish: only the server does',
    );
  });

  it.each([
    ['run', undefined, 'missing-field', /: run is missing$/],
    ['run', '', 'out-of-range', /: run must not be empty$/],
    ['round', -1, 'out-of-range', /: round must be at least 0, got -1$/],
    ['round', 1.5, 'ill-typed', /: round must be an integer, got the number 1.5$/],
    ['sender', 7, 'ill-typed', /: sender must be a string, got the number 7$/],
    ['id', undefined, 'missing-field', /: id is missing$/],
    ['body', [1, 2], 'ill-typed', /: body must be a map, got an array$/],
  ] as const)('refuses envelope field %s = %j', (key, value, code, message) => {
    const wire: Record<string, unknown> = { ...wireOf(upload()) };
    if (value === undefined) delete wire[key];
    else wire[key] = value;
    expectRefusal(forge(wire), code, message, key);
  });

  it('refuses an envelope that is not a map', () => {
    const error = refusal(forge({ v: 3 }));
    expect(error.code).toBe('missing-field');
    expect(error.message).toMatch(/: run is missing$/);
  });
});

describe('logit payloads', () => {
  const base = upload();

  it.each([
    [
      'topKLogits',
      Float32Array.of(9, 8, 7, 6, 5, 4, 3, 2, 1, Number.NaN, -1, -2),
      'non-finite',
      'slm-logits from c2 (round 3): topKLogits[9] is NaN',
      'body.logits.topKLogits[9]',
    ],
    [
      'topKLogits',
      Float32Array.of(9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -Infinity),
      'non-finite',
      'slm-logits from c2 (round 3): topKLogits[11] is -Infinity',
      undefined,
    ],
    ['ce', Float32Array.of(0.5, Infinity, 2.5), 'non-finite', 'slm-logits from c2 (round 3): ce[1] is Infinity', 'body.logits.ce[1]'],
    ['ce', Float32Array.of(0.5, 1, -2.5), 'out-of-range', 'slm-logits from c2 (round 3): ce[2] is -2.5, a negative cross-entropy', undefined],
    [
      'tokenIds',
      Int32Array.of(1, 2, 3, -4, 5, 6),
      'out-of-range',
      'slm-logits from c2 (round 3): tokenIds[3] is -4, a negative token id',
      'body.logits.tokenIds[3]',
    ],
    [
      'topKIds',
      Int32Array.of(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 32_000),
      'out-of-range',
      'slm-logits from c2 (round 3): topKIds[11] is 32000, not below the vocabulary size 32000 of llama2',
      undefined,
    ],
    ['tokenIds', Int32Array.of(1, 2, 3), 'shape', 'slm-logits from c2 (round 3): tokenIds has 3 entries, expected 6 (sum(lengths))', 'body.logits.tokenIds'],
    ['topKIds', Int32Array.of(1, 2, 3), 'shape', 'slm-logits from c2 (round 3): topKIds has 3 entries, expected 12 (sum(lengths) 6 * topK 2)', undefined],
    ['topKLogits', new Float32Array(13), 'shape', 'slm-logits from c2 (round 3): topKLogits has 13 entries, expected 12 (sum(lengths) 6 * topK 2)', undefined],
    ['ce', Float32Array.of(1, 2), 'shape', 'slm-logits from c2 (round 3): ce has 2 entries, expected 3 (one per sample, lengths.length)', undefined],
    ['lengths', Int32Array.of(2, -1, 5), 'out-of-range', 'slm-logits from c2 (round 3): lengths[1] is -1, a negative length', 'body.logits.lengths[1]'],
    ['topK', 0, 'out-of-range', 'slm-logits from c2 (round 3): topK must be at least 1, got 0', undefined],
    ['topKLogits', new Float64Array(12), 'ill-typed', 'slm-logits from c2 (round 3): topKLogits must be a Float32Array, got a Float64Array', undefined],
    ['lengths', [2, 1, 3], 'ill-typed', 'slm-logits from c2 (round 3): lengths must be an Int32Array, got an array', undefined],
    [
      'tokenIds',
      new Float32Array(6),
      'ill-typed',
      'slm-logits from c2 (round 3): tokenIds must be an Int32Array (or a narrowed Uint16Array / Uint8Array), got a Float32Array',
      undefined,
    ],
    ['tokenizer', undefined, 'missing-field', 'slm-logits from c2 (round 3): tokenizer is missing', 'body.logits.tokenizer'],
    ['logitEncoding', 'bf16', 'ill-typed', `slm-logits from c2 (round 3): logitEncoding must be 'f32', 'f16' or 'q8', got the string "bf16"`, undefined],
  ] as const)('refuses %s = %s', (key, value, code, message, path) => {
    expectRefusal(forge(wireLogits(base, { [key]: value })), code, message, path);
  });

  it('finds the first NaN in a large payload and names its index', () => {
    const random = new Random(3);
    const logits = makeLogits(random, 40, 60, 16);
    logits.topKLogits[1234] = Number.NaN;
    const bytes = forge(wireLogits(envelope({ type: 'slm-logits', logits }), {}));
    expectRefusal(bytes, 'non-finite', 'slm-logits from c2 (round 3): topKLogits[1234] is NaN', 'body.logits.topKLogits[1234]');
  });

  it('checks the sample count against the public set size when the context gives one', () => {
    const bytes = encodeMessage(base);
    expectRefusal(bytes, 'shape', 'slm-logits from c2 (round 3): lengths covers 3 samples, expected 4 (the public set)', 'body.logits.lengths', {
      ...context,
      expectedSamples: 4,
    });
    expect(decodeMessage(bytes, { ...context, expectedSamples: 3 }).id).toBe('c2:31');
  });

  it('checks ids against the vocabulary only where the context knows it', () => {
    const bytes = encodeMessage({
      ...base,
      body: { ...base.body, logits: { ...base.body.logits, tokenizer: 'unheard-of', tokenIds: Int32Array.of(1, 2, 3, 4, 5, 99_999_999) } },
    });
    expect(decodeMessage(bytes, context).body.type).toBe('slm-logits');
    expectRefusal(bytes, 'out-of-range', 'slm-logits from c2 (round 3): tokenIds[5] is 99999999, not below the vocabulary size 1000 of unheard-of', undefined, {
      ...context,
      vocabSize: () => 1000,
    });
  });

  it('refuses the sender a malformed upload before it leaves', () => {
    const bad = { ...base, body: { ...base.body, logits: { ...base.body.logits, ce: Float32Array.of(1) } } };
    expect(() => encodeMessage(bad)).toThrow('encoding slm-logits from c2 (round 3): ce has 1 entries, expected 3 (one per sample, lengths.length)');
  });
});

describe('other bodies', () => {
  const [roundStart, , , adapter, average, finish] = everyMessage() as Envelope[];

  it.each([
    ['round-start', roundStart, { uploadDeadline: Number.NaN }, 'non-finite', 'round-start from server (round 3): uploadDeadline is NaN'],
    ['round-start', roundStart, { uploadDeadline: undefined }, 'missing-field', 'round-start from server (round 3): uploadDeadline is missing'],
    ['finish', finish, { reason: 'bored' }, 'ill-typed', `finish from server (round 3): reason must be 'completed' or 'aborted', got the string "bored"`],
    ['finish', finish, { detail: 42 }, 'ill-typed', 'finish from server (round 3): detail must be a string, got the number 42'],
    ['adapter', adapter, { weight: 0 }, 'out-of-range', 'adapter from c2 (round 3): weight must be positive, got 0'],
    [
      'adapter',
      adapter,
      { tensors: { a: { shape: [2, 3], values: new Float32Array(5) } } },
      'shape',
      'adapter from c2 (round 3): tensors.a.values has 5 entries, expected 6 (the product of shape [2, 3])',
    ],
    [
      'adapter',
      adapter,
      { tensors: { a: { shape: [2, 1.5], values: new Float32Array(3) } } },
      'ill-typed',
      'adapter from c2 (round 3): tensors.a.shape[1] must be an integer, got the number 1.5',
    ],
    [
      'adapter',
      adapter,
      { tensors: { a: { shape: [2], values: Float32Array.of(1, Number.NaN) } } },
      'non-finite',
      'adapter from c2 (round 3): tensors.a.values[1] is NaN',
    ],
    ['adapter', adapter, { tensors: { a: { shape: [2] } } }, 'missing-field', 'adapter from c2 (round 3): tensors.a.values is missing'],
    [
      'adapter-average',
      average,
      { contributors: ['c1', 'c7'] },
      'unknown-sender',
      'adapter-average from server (round 3): contributors[1] "c7" is not in the scenario',
    ],
    ['adapter-average', average, { contributors: ['c1', 'c1'] }, 'out-of-range', 'adapter-average from server (round 3): contributors[1] "c1" is listed twice'],
    [
      'adapter-average',
      average,
      { contributors: 'c1' },
      'ill-typed',
      'adapter-average from server (round 3): contributors must be an array of actor ids, got the string "c1"',
    ],
  ] as const)('refuses a bad %s body (%#)', (_label, env, patch, code, message) => {
    const wire = wireOf(env as Envelope);
    const body: Record<string, unknown> = { ...(wire.body as object), ...patch };
    for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
    expectRefusal(forge({ ...wire, body }), code, message);
  });

  it('cannot be made to replace a prototype by a tensor named __proto__', () => {
    const wire = wireOf(adapter as Envelope);
    const tensors = JSON.parse('{"__proto__": {"shape": [1]}}') as Record<string, { shape: number[]; values?: Float32Array }>;
    (tensors[OWN_PROTO] as { values?: Float32Array }).values = Float32Array.of(4);
    const decoded = decodeMessage(forge({ ...wire, body: { type: 'adapter', weight: 1, tensors } }), context);
    if (decoded.body.type !== 'adapter') throw new Error('type');
    expect(Object.getPrototypeOf(decoded.body.tensors)).toBe(Object.prototype);
    expect(Object.values(decoded.body.tensors)).toEqual([{ shape: [1], values: Float32Array.of(4) }]);
  });

  it('refuses to send a tensor named __proto__, which msgpack readers rename', () => {
    const tensors = JSON.parse('{"__proto__": {"shape": [1]}}') as Record<string, { shape: number[]; values: Float32Array }>;
    (tensors[OWN_PROTO] as { values: Float32Array }).values = Float32Array.of(4);
    expect(() => encodeMessage(envelope({ type: 'adapter', tensors, weight: 1 }))).toThrow(
      'encoding adapter from c2 (round 3): tensors.__proto__ is not a portable tensor name',
    );
  });
});
