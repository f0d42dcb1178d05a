import { Objm, StorageType } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { findNatsServerBinary } from '../core/nats/binary.js';
import { startNatsServer } from '../core/nats/server-process.js';
import { NatsTransport, type NatsTransportOptions } from '../core/transport/nats-transport.js';
import type { Benchmark, Figure } from './harness.js';

/**
 * Uploads through one local nats-server with the default 1 MiB max_payload, each message sent
 * and awaited before the next (as a client's upload is), at two sizes: 4 MiB (logits at scale:
 * throughput) and 16 KiB (a small federation's logits: latency). The variants, interleaved so
 * that drift on a shared machine hits all alike:
 * - raw: the same bytes cut into max_payload pieces with plain core NATS publishes, done when
 *   the subscriber has every byte: the baseline;
 * - core request/reply: NatsTransport acknowledged by the receiver (framing, checksum on both
 *   sides, reassembly, ack), done when the publish resolves and the handler has the message;
 * - JetStream, file and memory storage: chunks stored in the stream with Nats-Msg-Id, done when
 *   the durable consumer has delivered the message (and its chunks are acknowledged);
 * - object store: JetStream's own chunking and digest (put then get), for reference.
 * The JetStream figures are also compared with core request/reply: that choice is the default's.
 */
const LARGE = { bytes: 4 * 1024 * 1024, messages: 8 };
const SMALL = { bytes: 16 * 1024, messages: 200 };
const REPEATS = 9;

const silent = { warn: () => {}, error: (m: string) => console.error(`[nats bench] ${m}`) };

function payload(bytes: number, seed: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096 + seed) & 0xff;
  return data;
}

/** Resolves once `expected` more bytes or messages have been counted. */
class Counter {
  private count = 0;
  private waiters: Array<{ target: number; resolve: () => void }> = [];
  add(n: number): void {
    this.count += n;
    const due = this.waiters.filter((w) => this.count >= w.target);
    this.waiters = this.waiters.filter((w) => this.count < w.target);
    for (const w of due) w.resolve();
  }
  next(expected: number): Promise<void> {
    const target = this.count + expected;
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }
}

/** One way of sending the messages; `round()` sends them all once, each awaited before the next. */
interface Variant {
  round(data: Uint8Array[]): Promise<void>;
  close(): Promise<void>;
}

async function rawCore(url: string): Promise<Variant> {
  const pub = await connect({ servers: url });
  const sub = await connect({ servers: url });
  const received = new Counter();
  sub.subscribe('raw.bench', { callback: (_e, m) => received.add(m.data.length) });
  await sub.flush();
  const piece = pub.info?.max_payload ?? 1024 * 1024;
  return {
    async round(data) {
      for (const message of data) {
        const done = received.next(message.length);
        for (let at = 0; at < message.length; at += piece) pub.publish('raw.bench', message.subarray(at, at + piece));
        await done;
      }
    },
    async close() {
      await pub.close();
      await sub.close();
    },
  };
}

let runs = 0;

async function transport(url: string, options: Partial<NatsTransportOptions>): Promise<Variant> {
  // A stream and consumers of their own per variant.
  const run = `bench${++runs}`;
  const base = { servers: url, logger: silent, run, ...options };
  const sender = await NatsTransport.connect({ ...base, name: 'c1' });
  const receiver = await NatsTransport.connect({ ...base, name: 'server' });
  const delivered = new Counter();
  receiver.subscribe(`fedmkt.${run}.*.slm-logits.*`, () => delivered.add(1));
  await receiver.ready();
  let sequence = 0;
  return {
    async round(data) {
      for (const message of data) {
        const done = delivered.next(1);
        await sender.publish(`fedmkt.${run}.r1.slm-logits.c1`, message, { sender: 'c1', messageId: `c1:${++sequence}` });
        await done;
      }
    },
    async close() {
      await sender.close();
      await receiver.close();
    },
  };
}

async function objectStore(url: string): Promise<Variant> {
  const nc = await connect({ servers: url });
  const os = await new Objm(nc).create('fedmkt-bench', { storage: StorageType.Memory });
  let sequence = 0;
  return {
    async round(data) {
      for (const message of data) {
        const name = `m${++sequence}`;
        await os.putBlob({ name }, message);
        const back = await os.getBlob(name);
        if (back?.length !== message.length) throw new Error(`object store returned ${back?.length} bytes for ${name}, expected ${message.length}`);
        await os.delete(name);
      }
    },
    close: () => nc.close(),
  };
}

/** Median seconds per round of each variant, after one warm-up round each, the variants interleaved. */
async function measure(variants: Variant[], data: Uint8Array[]): Promise<number[]> {
  const times: number[][] = variants.map(() => []);
  for (const v of variants) await v.round(data);
  for (let r = 0; r < REPEATS; r++) {
    for (const [i, v] of variants.entries()) {
      const start = process.hrtime.bigint();
      await v.round(data);
      times[i]?.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)] as number);
}

type Opener = [name: string, open: () => Promise<Variant>];

/** Per variant (raw first), messages per second and MB/s. */
async function session(openers: Opener[], size: { bytes: number; messages: number }): Promise<Map<string, { perSecond: number; mbPerSecond: number }>> {
  const variants: Variant[] = [];
  try {
    for (const [, open] of openers) variants.push(await open());
    const data = Array.from({ length: size.messages }, (_, i) => payload(size.bytes, i));
    const seconds = await measure(variants, data);
    return new Map(
      openers.map(([name], i) => [name, { perSecond: size.messages / seconds[i]!, mbPerSecond: (size.messages * size.bytes) / 1e6 / seconds[i]! }]),
    );
  } finally {
    await Promise.all(variants.map((v) => v.close()));
  }
}

const round1 = (x: number) => Number(x.toFixed(1));

function compared(name: string, value: number, baseline: number, unit: string, detail: Record<string, unknown>, goal?: string): Figure {
  return { name, value: round1(value), unit, baseline: round1(baseline), ratio: Number((value / baseline).toFixed(3)), ...(goal ? { goal } : {}), ...detail };
}

const natsUploads: Benchmark = {
  name: 'nats-throughput',
  async run(): Promise<Figure[]> {
    if (!findNatsServerBinary()) return [];
    const server = await startNatsServer({ jetstream: true });
    const url = server.url;
    try {
      const core: Opener = ['core', () => transport(url, { uploadAcks: 'request-reply' })];
      const jsFile: Opener = ['jsFile', () => transport(url, { uploadAcks: 'jetstream', jetStreamStorage: 'file' })];
      const jsMemory: Opener = ['jsMemory', () => transport(url, { uploadAcks: 'jetstream', jetStreamStorage: 'memory' })];
      const raw: Opener = ['raw', () => rawCore(url)];
      const large = await session([raw, core, jsFile, jsMemory, ['objects', () => objectStore(url)]], LARGE);
      const small = await session([raw, core, jsFile], SMALL);
      const at = (m: typeof large, name: string) => m.get(name)!;
      const big = { messageBytes: LARGE.bytes, messages: LARGE.messages, maxPayload: 1024 * 1024 };
      const little = { messageBytes: SMALL.bytes, messages: SMALL.messages };
      const mb = (name: string) => at(large, name).mbPerSecond;
      const perSecond = (name: string) => at(small, name).perSecond;
      return [
        compared('nats upload 4 MiB, core request/reply ack (vs raw core publish)', mb('core'), mb('raw'), 'MB/s', big, 'ratio >= 0.5'),
        compared('nats upload 4 MiB, JetStream file stream (vs raw core publish)', mb('jsFile'), mb('raw'), 'MB/s', big),
        compared('nats upload 4 MiB, JetStream memory stream (vs raw core publish)', mb('jsMemory'), mb('raw'), 'MB/s', big),
        compared('nats JetStream object store put+get 4 MiB, reference (vs raw core publish)', mb('objects'), mb('raw'), 'MB/s', big),
        compared('nats upload 4 MiB, JetStream file stream (vs core request/reply ack)', mb('jsFile'), mb('core'), 'MB/s', big),
        compared('nats upload 16 KiB, core request/reply ack (vs raw core publish)', perSecond('core'), perSecond('raw'), 'messages/s', little),
        compared('nats upload 16 KiB, JetStream file stream (vs core request/reply ack)', perSecond('jsFile'), perSecond('core'), 'messages/s', little),
      ];
    } finally {
      await server.stop();
    }
  },
};

export default [natsUploads];
