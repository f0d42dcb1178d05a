import { Objm, StorageType } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { findNatsServerBinary } from '../core/nats/binary.js';
import { startNatsServer } from '../core/nats/server-process.js';
import { NatsTransport, type NatsTransportOptions } from '../core/transport/nats-transport.js';
import type { Benchmark, Figure } from './harness.js';

/**
 * Throughput of logit-sized uploads (4 MiB) through one local nats-server with the default
 * 1 MiB max_payload, each message sent and awaited before the next (as a client's upload is):
 * - raw: the same bytes cut into max_payload pieces with plain core NATS publishes, done when
 *   the subscriber has every byte: the baseline;
 * - transport core: NatsTransport with request/reply acknowledgements (framing, sha256 on both
 *   sides, reassembly, ack), done when the publish resolves and the handler has the message;
 * - transport JetStream (memory and file storage): chunks stored in a stream, done when the
 *   durable consumer has delivered the message;
 * - object store: JetStream's own chunking and digest (put then get), for reference.
 */
const MESSAGE_BYTES = 4 * 1024 * 1024;
const MESSAGES = 8;
const REPEATS = 9;
const RUN = 'bench';

const silent = { warn: () => {}, error: (m: string) => console.error(`[nats bench] ${m}`) };

function payload(seed: number): Uint8Array {
  const bytes = new Uint8Array(MESSAGE_BYTES);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096 + seed) & 0xff;
  return bytes;
}

const mbPerSecond = (seconds: number) => (MESSAGES * MESSAGE_BYTES) / 1e6 / seconds;

/** Resolves once `expected` more bytes or messages have been counted. */
class Counter {
  private count = 0;
  private waiters: Array<{ target: number; resolve: () => void }> = [];
  add(n: number): void {
    this.count += n;
    this.waiters = this.waiters.filter((w) => (this.count >= w.target ? (w.resolve(), false) : true));
  }
  next(expected: number): Promise<void> {
    const target = this.count + expected;
    return target <= this.count ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ target, resolve }));
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

async function transport(url: string, options: Partial<NatsTransportOptions>): Promise<Variant> {
  const base = { servers: url, logger: silent, run: RUN, ...options };
  const sender = await NatsTransport.connect({ ...base, name: 'c1' });
  const receiver = await NatsTransport.connect({ ...base, name: 'server' });
  const delivered = new Counter();
  receiver.subscribe(`fedmkt.${base.run}.*.slm-logits.*`, () => delivered.add(1));
  await receiver.ready();
  let sequence = 0;
  return {
    async round(data) {
      for (const message of data) {
        const done = delivered.next(1);
        await sender.publish(`fedmkt.${base.run}.r1.slm-logits.c1`, message, { sender: 'c1', messageId: `c1:${++sequence}` });
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
  const nc: NatsConnection = await connect({ servers: url });
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

/** Median seconds per round of each variant, the variants interleaved so that drift hits all alike. */
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

/** The variant's throughput and that of raw publishing measured alongside it (only these two open). */
async function againstRaw(url: string, open: () => Promise<Variant>, data: Uint8Array[]): Promise<{ value: number; raw: number }> {
  const variants = [await rawCore(url), await open()];
  try {
    const [raw, value] = (await measure(variants, data)).map(mbPerSecond) as [number, number];
    return { value, raw };
  } finally {
    await Promise.all(variants.map((v) => v.close()));
  }
}

const natsThroughput: Benchmark = {
  name: 'nats-throughput',
  async run(): Promise<Figure[]> {
    if (!findNatsServerBinary()) return [];
    const server = await startNatsServer({ jetstream: true });
    try {
      const data = Array.from({ length: MESSAGES }, (_, i) => payload(i));
      const detail = { messageBytes: MESSAGE_BYTES, messages: MESSAGES, maxPayload: 1024 * 1024 };
      const round = (x: number) => Number(x.toFixed(1));
      const figure = (name: string, m: { value: number; raw: number }, goal?: string): Figure => ({
        name,
        value: round(m.value),
        unit: 'MB/s',
        baseline: round(m.raw),
        ratio: Number((m.value / m.raw).toFixed(3)),
        ...(goal ? { goal } : {}),
        ...detail,
      });
      const core = await againstRaw(server.url, () => transport(server.url, { uploadAcks: 'request-reply' }), data);
      const jsMemory = await againstRaw(server.url, () => transport(server.url, { uploadAcks: 'jetstream', jetStreamStorage: 'memory', run: 'benchmem' }), data);
      const jsFile = await againstRaw(server.url, () => transport(server.url, { uploadAcks: 'jetstream', jetStreamStorage: 'file', run: 'benchfile' }), data);
      const os = await againstRaw(server.url, () => objectStore(server.url), data);
      return [
        figure('nats transport upload, core request/reply ack (vs raw core publish)', core, 'ratio >= 0.5'),
        figure('nats transport upload, JetStream memory stream (vs raw core publish)', jsMemory),
        figure('nats transport upload, JetStream file stream (vs raw core publish)', jsFile),
        figure('nats JetStream object store put+get, reference (vs raw core publish)', os),
      ];
    } finally {
      await server.stop();
    }
  },
};

export default [natsThroughput];
