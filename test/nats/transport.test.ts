import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServerHandle, startNatsServer } from '../../core/nats/server-process.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';
import { encodeFrames } from '../../core/transport/nats/frame.js';
import type { TransportMessage } from '../../core/transport/transport.js';
import { captureLog, equalBytes, natsServerAvailable, patternBytes, waitFor } from './helpers.js';

const MiB = 1024 * 1024;

describe.skipIf(!natsServerAvailable)('NATS transport on one server', () => {
  let server: NatsServerHandle;
  let raw: NatsConnection;
  const transports: NatsTransport[] = [];
  const open = async (options: Partial<Parameters<typeof NatsTransport.connect>[0]> = {}) => {
    const t = await NatsTransport.connect({ servers: server.url, logger: captureLog().logger, ...options });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    server = await startNatsServer();
    raw = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await raw?.close();
    await server?.stop();
  });

  it('reads max_payload from the server', async () => {
    const t = await open();
    expect(t.maxPayload).toBe(MiB);
  });

  it('round-trips a message through a wildcard subscription', async () => {
    const sender = await open();
    const receiver = await open();
    const got: TransportMessage[] = [];
    const all: TransportMessage[] = [];
    receiver.subscribe('fedmkt.rt.*.round-start', (m) => got.push(m));
    const everything = receiver.subscribe('fedmkt.rt.>', (m) => all.push(m));
    await new Promise((r) => setTimeout(r, 50));
    await sender.publish('fedmkt.rt.r1.round-start', new Uint8Array([1, 2, 3]), { sender: 'server', messageId: 'server:1' });
    await sender.publish('fedmkt.rt.r1.finish', new Uint8Array([4]), { sender: 'server', messageId: 'server:2' });
    await waitFor('the messages', () => got.length === 1 && all.length === 2);
    expect(got[0]?.subject).toBe('fedmkt.rt.r1.round-start');
    expect([...(got[0]?.data ?? [])]).toEqual([1, 2, 3]);
    expect(all.map((m) => m.subject)).toEqual(['fedmkt.rt.r1.round-start', 'fedmkt.rt.r1.finish']);
    everything.unsubscribe();
    await sender.publish('fedmkt.rt.r2.round-start', new Uint8Array([5]), { sender: 'server', messageId: 'server:3' });
    await waitFor('the third message', () => got.length === 2);
    expect(all).toHaveLength(2);
  });

  it('carries 5 MiB through a 1 MiB max_payload, reassembled exactly', async () => {
    const sender = await open();
    const receiver = await open();
    const got: TransportMessage[] = [];
    receiver.subscribe('fedmkt.big.*.llm-logits', (m) => got.push(m));
    await new Promise((r) => setTimeout(r, 50));
    const payload = patternBytes(5 * MiB, 42);
    await sender.publish('fedmkt.big.r1.llm-logits', payload, { sender: 'server', messageId: 'server:big' });
    await waitFor('the reassembled payload', () => got.length === 1);
    expect(equalBytes(got[0]?.data ?? new Uint8Array(), payload)).toBe(true);
  });

  it('rejects a message with a corrupted chunk with a clear error and keeps working', async () => {
    const log = captureLog();
    const receiver = await open({ logger: log.logger });
    const got: TransportMessage[] = [];
    receiver.subscribe('fedmkt.bad.>', (m) => got.push(m));
    await new Promise((r) => setTimeout(r, 50));
    const subject = 'fedmkt.bad.r1.llm-logits';
    const payload = patternBytes(3 * MiB, 7);
    const frames = encodeFrames(payload, { sender: 'server', messageId: 'server:c', maxFrameBytes: MiB });
    const corrupted = (frames[1] as Uint8Array).slice();
    corrupted[5_000] = (corrupted[5_000] as number) ^ 0x01;
    for (const f of [frames[0], corrupted, ...frames.slice(2)]) raw.publish(subject, f as Uint8Array);
    raw.publish(subject, new TextEncoder().encode('not a frame of the fedmkt transport, and long enough to have a header'));
    await raw.flush();
    await waitFor('both errors', () => log.errors.length >= 2);
    expect(log.errors).toContainEqual(expect.stringMatching(/integrity check failed for message server:c from server on "fedmkt.bad.r1.llm-logits"/));
    expect(log.errors).toContainEqual(expect.stringMatching(/malformed frame on "fedmkt.bad.r1.llm-logits".*magic/));
    expect(got).toHaveLength(0);
    for (const f of frames) raw.publish(subject, f);
    await raw.flush();
    await waitFor('the clean copy', () => got.length === 1);
    expect(equalBytes(got[0]?.data ?? new Uint8Array(), payload)).toBe(true);
  });

  it('acknowledges an upload and delivers a retried duplicate once', async () => {
    const sender = await open();
    const receiver = await open();
    const got: TransportMessage[] = [];
    receiver.subscribe('fedmkt.ack.*.slm-logits.*', (m) => got.push(m));
    await new Promise((r) => setTimeout(r, 50));
    const subject = 'fedmkt.ack.r1.slm-logits.c1';
    const payload = patternBytes(2 * MiB + 3, 9);
    const captured: Uint8Array[] = [];
    const spy = raw.subscribe(subject, { callback: (_e, m) => void captured.push(m.data) });
    await raw.flush();
    await sender.publish(subject, payload, { sender: 'c1', messageId: 'c1:1' });
    // the same message again, as a sender retries after a lost acknowledgement
    await sender.publish(subject, payload, { sender: 'c1', messageId: 'c1:1' });
    // and its frames replayed by hand: the receiver still acknowledges them
    const ackInbox = raw.subscribe('_INBOX.test-replay', { max: 1 });
    await waitFor('captured frames', () => captured.length >= 6);
    for (const f of captured.slice(0, 3)) raw.publish(subject, f, { reply: '_INBOX.test-replay' });
    for await (const ack of ackInbox) expect(new TextDecoder().decode(ack.data)).toBe('{"ok":true}');
    spy.unsubscribe();
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toHaveLength(1);
    expect(equalBytes(got[0]?.data ?? new Uint8Array(), payload)).toBe(true);
  });

  it('retries an upload nobody acknowledged until a receiver appears', async () => {
    const log = captureLog();
    const sender = await open({ logger: log.logger, ackTimeoutMs: 200, ackTimeoutPerMiBMs: 0, maxAttempts: 20 });
    const receiver = await open();
    const got: TransportMessage[] = [];
    const subject = 'fedmkt.late.r1.adapter.c2';
    const publishing = sender.publish(subject, patternBytes(100), { sender: 'c2', messageId: 'c2:1' });
    await waitFor('a retry', () => log.warnings.some((w) => /publish of c2:1 to "fedmkt.late.r1.adapter.c2": no subscriber yet; retrying/.test(w)));
    receiver.subscribe('fedmkt.late.*.adapter.*', (m) => got.push(m));
    await publishing;
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toHaveLength(1);
  });

  it('fails an upload nobody subscribes to once its time budget is spent', async () => {
    const sender = await open({ ackTimeoutMs: 100, ackTimeoutPerMiBMs: 0, maxAttempts: 2 });
    await expect(sender.publish('fedmkt.none.r1.adapter.c3', patternBytes(10), { sender: 'c3', messageId: 'c3:1' })).rejects.toThrow(
      /publish of c3:1 from c3 to "fedmkt.none.r1.adapter.c3" failed after 0 attempts: nothing subscribes to "fedmkt.none.r1.adapter.c3"/,
    );
  });

  it('fails an upload whose receiver never acknowledges after its attempts', async () => {
    const sender = await open({ ackTimeoutMs: 50, ackTimeoutPerMiBMs: 0, maxAttempts: 2 });
    const silent = raw.subscribe('fedmkt.silent.>');
    await raw.flush();
    await expect(sender.publish('fedmkt.silent.r1.adapter.c3', patternBytes(10), { sender: 'c3', messageId: 'c3:1' })).rejects.toThrow(
      /publish of c3:1 from c3 to "fedmkt.silent.r1.adapter.c3" failed after 2 attempts: no acknowledgement within 50 ms/,
    );
    silent.unsubscribe();
  });

  it('refuses JetStream uploads without a run before connecting', async () => {
    await expect(NatsTransport.connect({ servers: server.url, uploadAcks: 'jetstream' })).rejects.toThrow(/needs options.run/);
  });

  it('rejects invalid subjects and use after close', async () => {
    const t = await open();
    await expect(t.publish('fedmkt.*.x', new Uint8Array(1), { sender: 's', messageId: 'm' })).rejects.toThrow(/invalid subject "fedmkt.\*.x"/);
    expect(() => t.subscribe('a.>.b', () => {})).toThrow(/invalid pattern "a.>.b"/);
    await t.close();
    await expect(t.publish('a.b', new Uint8Array(1), { sender: 's', messageId: 'm' })).rejects.toThrow(/transport is closed/);
  });

  it('delivers what was published before close drains', async () => {
    const sender = await open();
    const receiver = await open();
    let count = 0;
    receiver.subscribe('fedmkt.drain.>', () => count++);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20; i++) await sender.publish('fedmkt.drain.r1.finish', patternBytes(1000, i + 1), { sender: 'server', messageId: `server:${i}` });
    await sender.close();
    await waitFor('all 20', () => count === 20);
    await receiver.close();
  });

  it('keeps running when a handler throws', async () => {
    const log = captureLog();
    const sender = await open();
    const receiver = await open({ logger: log.logger });
    let calls = 0;
    receiver.subscribe('fedmkt.throw.>', () => {
      calls++;
      throw new Error('boom');
    });
    await new Promise((r) => setTimeout(r, 50));
    await sender.publish('fedmkt.throw.r1.finish', new Uint8Array(1), { sender: 'server', messageId: 'a' });
    await sender.publish('fedmkt.throw.r1.finish', new Uint8Array(1), { sender: 'server', messageId: 'b' });
    await waitFor('both calls', () => calls === 2);
    expect(log.errors[0]).toMatch(/handler of "fedmkt.throw.>" threw on a from server/);
  });
});

describe.skipIf(!natsServerAvailable)('NATS transport with JetStream uploads', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores a chunked upload in the stream and delivers it once to a durable consumer, even one that subscribes later', async () => {
    const options = { servers: server.url, uploadAcks: 'jetstream' as const, run: 'js', logger: captureLog().logger };
    const client = await NatsTransport.connect({ ...options, name: 'c1' });
    const payload = patternBytes(3 * MiB + 11, 5);
    await client.publish('fedmkt.js.r1.slm-logits.c1', payload, { sender: 'c1', messageId: 'c1:1' });
    await client.publish('fedmkt.js.r1.slm-logits.c1', payload, { sender: 'c1', messageId: 'c1:1' });
    const receiver = await NatsTransport.connect({ ...options, name: 'server' });
    const got: TransportMessage[] = [];
    receiver.subscribe('fedmkt.js.*.slm-logits.*', (m) => got.push(m));
    receiver.subscribe('fedmkt.js.*.round-start', (m) => got.push(m));
    await receiver.ready();
    await waitFor('the upload', () => got.length === 1);
    expect(equalBytes(got[0]?.data ?? new Uint8Array(), payload)).toBe(true);
    // broadcasts still travel over core NATS
    await client.publish('fedmkt.js.r2.round-start', new Uint8Array([9]), { sender: 'server', messageId: 'server:1' });
    await waitFor('the broadcast', () => got.length === 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.map((m) => m.subject)).toEqual(['fedmkt.js.r1.slm-logits.c1', 'fedmkt.js.r2.round-start']);
    await client.close();
    await receiver.close();
  });
});
