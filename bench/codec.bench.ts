import { crc32c } from '@node-rs/crc32';
import { xxh3 } from '@node-rs/xxhash';
import { createCRC32, createXXHash3, createXXHash64, type IHasher } from 'hash-wasm';
import xxhashWasm from 'xxhash-wasm';
import { decodeMessage, encodeMessage, type LogitEncoding } from '../core/protocol/codec.js';
import { scanMessage } from '../core/protocol/message-scan.js';
import { PROTOCOL_VERSION, type Envelope, type PublicLogits, type SlmLogitsBody } from '../core/protocol/messages.js';
import { Random } from '../core/random.js';
import { timeIt, type Benchmark, type Figure } from './harness.js';

/**
 * Public-set shapes of one round's upload: N samples x L positions x top-K. The round of
 * ../shared/FEDMKT.md (N = 223, L = 512, K = 128: 14.6 million logits) carries the goal;
 * the small one, at quickstart scale, fits in cache, where a copy runs at 10-18 GB/s and the
 * checksum and value checks alone take about twice as long as the copy (docs/wire.md).
 */
const PAYLOADS = [
  { label: '64x48xK16', samples: 64, length: 48, topK: 16, repeats: 400, goal: false },
  { label: '223x512xK128', samples: 223, length: 512, topK: 128, repeats: 7, goal: true },
] as const;

const VOCAB = 32_000;

function roundPayload(samples: number, length: number, topK: number): Envelope<SlmLogitsBody> {
  const random = new Random(0xc0dec);
  const positions = samples * length;
  const tokenIds = new Int32Array(positions);
  for (let i = 0; i < positions; i++) tokenIds[i] = random.int(VOCAB);
  const topKIds = new Int32Array(positions * topK);
  const topKLogits = new Float32Array(positions * topK);
  for (let p = 0; p < positions; p++) {
    let logit = 10 + random.next() * 10;
    for (let j = 0; j < topK; j++) {
      topKIds[p * topK + j] = random.int(VOCAB);
      topKLogits[p * topK + j] = logit;
      logit -= random.next() * 0.5;
    }
  }
  const ce = new Float32Array(samples).map(() => random.next() * 4);
  const logits: PublicLogits = { tokenizer: 'llama2', topK, lengths: new Int32Array(samples).fill(length), tokenIds, topKIds, topKLogits, ce };
  return { v: PROTOCOL_VERSION, run: 'bench', round: 1, sender: 'c1', id: 'c1:1', body: { type: 'slm-logits', logits } };
}

function payloadBytes(logits: PublicLogits): number {
  return [logits.lengths, logits.tokenIds, logits.topKIds, logits.topKLogits, logits.ce].reduce((n, a) => n + a.byteLength, 0);
}

const context = { knownSenders: new Set(['server', 'c1']), vocabSize: () => VOCAB };
const mbps = (bytes: number, seconds: number) => bytes / seconds / 1e6;

/**
 * Median seconds of each function over 5 rounds in which they take turns, after a warm-up of each:
 * the allocator and the GC drift over a run (a 406 KB slice() slows from 27 to 60 us after some
 * thousand others), and measuring one function first, alone, would favour it.
 */
async function inTurns<K extends string>(fns: Record<K, () => unknown>, repeats: number): Promise<Record<K, number>> {
  const entries = Object.entries(fns) as Array<[K, () => unknown]>;
  for (const [, fn] of entries) await timeIt(fn, repeats);
  const rounds = new Map<K, number[]>(entries.map(([name]) => [name, []]));
  for (let round = 0; round < 5; round++) for (const [name, fn] of entries) rounds.get(name)?.push(await timeIt(fn, repeats));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return Object.fromEntries(entries.map(([name]) => [name, median(rounds.get(name) ?? [])])) as Record<K, number>;
}

/** A hash-wasm hasher over one buffer (it copies the input into its own memory). */
const oneShot = (hasher: IHasher) => (bytes: Uint8Array) => hasher.init().update(bytes).digest('binary');

const benchmarks: Benchmark[] = [
  {
    name: 'codec-roundtrip',
    async run() {
      const figures: Figure[] = [];
      for (const { label, samples, length, topK, repeats, goal } of PAYLOADS) {
        const envelope = roundPayload(samples, length, topK);
        const bytes = payloadBytes(envelope.body.logits);
        const message = encodeMessage(envelope);
        const { copy, encode, decode, both } = await inTurns(
          {
            copy: () => message.slice(),
            encode: () => encodeMessage(envelope),
            decode: () => decodeMessage(message, context),
            both: () => decodeMessage(encodeMessage(envelope), context),
          },
          repeats,
        );
        const base = mbps(bytes, copy);
        const figure = (name: string, seconds: number, goal?: string): Figure => {
          const value = mbps(bytes, seconds);
          return { name, value, unit: 'MB/s', baseline: base, ratio: value / base, payloadBytes: bytes, ...(goal ? { goal } : {}) };
        };
        figures.push(
          figure(`codec.f32.encode+decode.${label}`, both, goal ? 'ratio >= 0.5 of a plain copy (a FEDMKT.md round)' : undefined),
          figure(`codec.f32.encode.${label}`, encode),
          figure(`codec.f32.decode.${label}`, decode),
        );
      }
      return figures;
    },
  },
  {
    // The codec's checksum (XXH64 by @node-rs/xxhash) against the other standard ones from
    // maintained packages, each over the bytes of the same encoded message (all but its last 8),
    // in turns; the ratio is to the codec's own. docs/wire.md has the figures and the choice.
    name: 'codec-checksum',
    async run() {
      const xxhWasm = await xxhashWasm();
      const candidates: Record<string, (bytes: Uint8Array) => unknown> = {
        codec: (bytes) => scanMessage(bytes, bytes.length).checksum,
        'xxh64.xxhash-wasm': (bytes) => xxhWasm.h64Raw(bytes),
        'xxh64.hash-wasm': oneShot(await createXXHash64()),
        'xxh3.node-rs': (bytes) => xxh3.xxh64(bytes),
        'xxh3.hash-wasm': oneShot(await createXXHash3()),
        'crc32c.node-rs': (bytes) => crc32c(bytes),
        'crc32c.hash-wasm': oneShot(await createCRC32(0x82f63b78)),
      };
      const figures: Figure[] = [];
      for (const { label, samples, length, topK, repeats } of PAYLOADS) {
        const message = encodeMessage(roundPayload(samples, length, topK));
        const summed = message.subarray(0, message.length - 8);
        const times = await inTurns(Object.fromEntries(Object.entries(candidates).map(([name, fn]) => [name, () => fn(summed)])), repeats);
        const base = mbps(summed.length, times.codec as number);
        for (const [name, seconds] of Object.entries(times)) {
          const value = mbps(summed.length, seconds);
          figures.push({ name: `checksum.${name}.${label}`, value, unit: 'MB/s', baseline: base, ratio: value / base, messageBytes: summed.length });
        }
      }
      return figures;
    },
  },
  {
    name: 'codec-encodings',
    async run() {
      const figures: Figure[] = [];
      for (const { label, samples, length, topK, repeats } of PAYLOADS) {
        const envelope = roundPayload(samples, length, topK);
        const bytes = payloadBytes(envelope.body.logits);
        const f32Size = encodeMessage(envelope).length;
        for (const encoding of ['f32', 'f16', 'q8'] as LogitEncoding[]) {
          const message = encodeMessage(envelope, { logits: encoding });
          const encode = await timeIt(() => encodeMessage(envelope, { logits: encoding }), repeats);
          const decode = await timeIt(() => decodeMessage(message, context), repeats);
          figures.push(
            { name: `codec.${encoding}.bytes-per-round.${label}`, value: message.length, unit: 'bytes', baseline: f32Size, ratio: message.length / f32Size },
            { name: `codec.${encoding}.encode.${label}`, value: mbps(bytes, encode), unit: 'MB/s (f32 payload)' },
            { name: `codec.${encoding}.decode.${label}`, value: mbps(bytes, decode), unit: 'MB/s (f32 payload)' },
          );
        }
      }
      return figures;
    },
  },
];

export default benchmarks;
