import { Packr } from 'msgpackr';
import type { DecodeContext } from '../../core/protocol/codec.js';
import { scanMessage } from '../../core/protocol/message-scan.js';
import { PROTOCOL_VERSION, type Envelope, type MessageBody, type PublicLogits } from '../../core/protocol/messages.js';
import { Random } from '../../core/random.js';

const VOCAB: Record<string, number> = { llama2: 32_000, gpt2: 50_257, tiny: 200, huge: 2_100_000_000 };

export const context: DecodeContext = {
  knownSenders: new Set(['server', 'c1', 'c2', 'c3']),
  vocabSize: (tokenizer) => VOCAB[tokenizer],
};

/** Random public logits; ids spread over `vocab`, logits sorted descending per position. */
export function makeLogits(random: Random, samples: number, maxLength: number, topK: number, tokenizer = 'llama2'): PublicLogits {
  const vocab = VOCAB[tokenizer] ?? 32_000;
  const lengths = new Int32Array(samples).map(() => 1 + random.int(maxLength));
  const positions = lengths.reduce((a, b) => a + b, 0);
  const tokenIds = new Int32Array(positions).map(() => random.int(vocab));
  const topKIds = new Int32Array(positions * topK).map(() => random.int(vocab));
  const topKLogits = new Float32Array(positions * topK);
  for (let p = 0; p < positions; p++) {
    let logit = random.normal() * 5 + 10;
    for (let j = 0; j < topK; j++) {
      topKLogits[p * topK + j] = logit;
      logit -= random.next() * 2;
    }
  }
  const ce = new Float32Array(samples).map(() => random.next() * 5);
  return { tokenizer, topK, lengths, tokenIds, topKIds, topKLogits, ce };
}

export function envelope<B extends MessageBody>(
  body: B,
  sender = body.type === 'slm-logits' || body.type === 'adapter' ? 'c2' : 'server',
  round = 3,
): Envelope<B> {
  return { v: PROTOCOL_VERSION, run: 'run-7', round, sender, id: `${sender}:${round * 10 + 1}`, body };
}

/** One envelope of every message type, with edge values (-0, huge ids, subnormals). */
export function everyMessage(seed = 1): Envelope[] {
  const random = new Random(seed);
  const slm = makeLogits(random, 5, 9, 4);
  slm.topKLogits[3] = -0;
  slm.topKLogits[7] = 1e-45; // subnormal
  slm.ce[0] = -0;
  const llm = makeLogits(random, 5, 12, 8, 'huge');
  llm.topKIds[0] = 2_099_999_999;
  llm.tokenIds[1] = 2_000_000_000;
  const tensor = (shape: number[]) => ({ shape, values: new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => random.normal()) });
  const loraA = tensor([8, 16]);
  loraA.values[0] = -0;
  loraA.values[1] = 3.4028234663852886e38;
  return [
    envelope({ type: 'round-start', uploadDeadline: 1_712_345_678_901.5 }),
    envelope({ type: 'slm-logits', logits: slm }),
    envelope({ type: 'llm-logits', logits: llm }),
    envelope({ type: 'adapter', tensors: { 'layers.0.q.lora_A': loraA, 'layers.0.q.lora_B': tensor([16, 8]), scalar: tensor([]) }, weight: 223 }),
    envelope({ type: 'adapter-average', tensors: { 'layers.0.q.lora_A': tensor([8, 16]), empty: tensor([0, 4]) }, contributors: ['c1', 'c2', 'c3'] }),
    envelope({ type: 'finish', reason: 'completed' }),
    envelope({ type: 'finish', reason: 'aborted', detail: 'client c3 missed the deadline — ünïcødé ✓' }),
  ];
}

const forger = new Packr({ moreTypes: true, useRecords: false });

/**
 * Writes any object in the codec's framing with a valid checksum, packed by msgpackr itself (so
 * arrays are not aligned): what a buggy or hostile sender could put on the wire. Tests use it to
 * reach validation behind the integrity check.
 */
export function forge(wire: Record<string, unknown>): Uint8Array {
  const packed = forger.pack({ ...wire, sum: Buffer.alloc(8) });
  const bytes = new Uint8Array(packed.length);
  bytes.set(packed);
  return withValidChecksum(bytes);
}

/** Rewrites the trailing checksum of a (tampered) message so that it matches its bytes again. */
export function withValidChecksum(bytes: Uint8Array): Uint8Array {
  const end = bytes.length - 8;
  bytes.set(scanMessage(bytes, end).checksum, end);
  return bytes;
}

/** The wire form of an envelope (f32, nothing narrowed): plain fields plus typed arrays. */
export function wireOf(env: Envelope): Record<string, unknown> {
  return { v: env.v, run: env.run, round: env.round, sender: env.sender, id: env.id, body: { ...env.body } };
}

export function wireLogits(env: Envelope, patch: Record<string, unknown>): Record<string, unknown> {
  const body = env.body as { type: string; logits: PublicLogits };
  return { ...wireOf(env), body: { type: body.type, logits: { ...body.logits, ...patch } } };
}

/** Bytes of a typed array, for bit-exact comparison (-0, NaN payloads). */
export function bitsOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}
