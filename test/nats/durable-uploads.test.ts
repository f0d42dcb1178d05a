/**
 * Durable uploads (`uploads: 'jetstream'`, file storage) when nats-server is killed outright
 * (SIGKILL) and started again on its JetStream store: what the stream held comes back, a
 * retried upload is stored once, and a deployment collecting uploads counts each exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import type { LearningStack } from '../../actors/federation.js';
import { runOverNats } from '../../actors/nats-deployment.js';
import type { RunEvent } from '../../core/records.js';
import { type NatsServerHandle, startNatsServer } from '../../core/nats/server-process.js';
import { loadScenario } from '../../core/scenario/load.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';
import { uploadStreamName } from '../../core/transport/nats/subject-rules.js';
import type { TransportMessage } from '../../core/transport/transport.js';
import { captureLog, equalBytes, natsServerAvailable, patternBytes, waitFor } from './helpers.js';

const CLIENTS = ['c1', 'c2', 'c3'];

/** Round of each accepted upload of `message`, by sender. */
function acceptedBySender(events: readonly RunEvent[], message: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const e of events) if (e.actor === 'server' && e.kind === 'accepted' && e.message === message) (out[String(e.sender)] ??= []).push(e.round);
  return out;
}

describe.skipIf(!natsServerAvailable)('durable uploads through JetStream', () => {
  let nats: NatsServerHandle;
  let learning: LearningStack;
  let dir: string;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    learning = await defaultLearningStack({ workers: 0 });
    dir = mkdtempSync(join(tmpdir(), 'fedmkt-durable-'));
  });
  afterAll(async () => {
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Messages the stream holds now, and the highest sequence it ever stored. */
  const streamState = async (run: string) => {
    const nc = await connect({ servers: nats.url });
    try {
      const { state } = await (await jetstreamManager(nc)).streams.info(uploadStreamName(run));
      return { messages: state.messages, lastSeq: state.last_seq };
    } finally {
      await nc.close();
    }
  };

  it('keeps stored chunks across a restart, stores a retried upload once, and delivers the message once', async () => {
    const options = { servers: nats.url, uploadAcks: 'jetstream' as const, run: 'kept', logger: captureLog().logger };
    const client = await NatsTransport.connect({ ...options, name: 'c1' });
    const subject = 'fedmkt.kept.r1.slm-logits.c1';
    const payload = patternBytes(3 * 1024 * 1024 + 5, 3);
    try {
      await client.publish(subject, payload, { sender: 'c1', messageId: 'c1:1' });
      const stored = await streamState('kept');
      expect(stored.messages).toBeGreaterThan(3);
      await nats.restart();
      expect(await streamState('kept')).toEqual(stored);
      // The same upload again, as a sender whose acknowledgement was lost retries it: the stream drops every chunk.
      await client.publish(subject, payload, { sender: 'c1', messageId: 'c1:1' });
      expect(await streamState('kept')).toEqual(stored);
      const receiver = await NatsTransport.connect({ ...options, name: 'server' });
      const got: TransportMessage[] = [];
      receiver.subscribe('fedmkt.kept.*.slm-logits.*', (m) => got.push(m));
      await receiver.ready();
      await waitFor('the upload', () => got.length === 1);
      expect(equalBytes(got[0]?.data ?? new Uint8Array(), payload)).toBe(true);
      await receiver.close();
      // Every chunk acknowledged: the work queue is empty.
      let left = stored.messages;
      for (const deadline = Date.now() + 10_000; left > 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50)))
        left = (await streamState('kept')).messages;
      expect(left).toBe(0);
      expect(got).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it('loses no upload and counts none twice when nats-server is killed mid-collection and restarted from its file store', { timeout: 240_000 }, async () => {
    // Deadlines long enough that a chunk redelivered after the consumer's ack wait still counts.
    const scenario = loadScenario('scenarios/nats-small.yaml', { overrides: [{ path: 'protocol.awaitSLMLogits.deadlineMs', value: 90_000 }] });
    const log: string[] = [];
    let restarted: Promise<void> | undefined;
    let killedAt = 0;
    let backAt = 0;
    const result = await runOverNats(scenario, {
      servers: nats.url,
      uploads: 'jetstream',
      learning,
      outDir: join(dir, 'run'),
      log: (line) => log.push(line),
      onEvent: (e) => {
        // As c1 starts its round-2 upload: the server is collecting, and that upload meets the outage.
        if (restarted || e.actor !== 'c1' || e.kind !== 'state' || e.state !== 'uploadLogits' || e.round !== 2) return;
        killedAt = Date.now();
        restarted = nats.restart().then(() => void (backAt = Date.now()));
      },
    });
    await restarted;
    expect(killedAt, 'the kill happened').toBeGreaterThan(0);
    expect(result.failures, log.join('\n')).toEqual({});
    expect(Object.values(result.finalStates)).toEqual(['done', 'done', 'done', 'done']);
    // The invariant checker read the whole trace (every actor ran here): nothing accepted twice, none lost.
    expect(result.violations).toEqual([]);
    const events = result.recorder.events;
    expect(acceptedBySender(events, 'slm-logits')).toEqual(Object.fromEntries(CLIENTS.map((c) => [c, [1, 2]])));
    expect(events.filter((e) => e.kind === 'ignored' && e.actor === 'server')).toEqual([]);
    // Mid-collection: the server was collecting round 2 at the kill, and took c1's upload after nats-server came back.
    const collecting = events.filter((e) => e.actor === 'server' && e.kind === 'state' && e.round === 2 && e.t <= killedAt).at(-1);
    expect(collecting?.state).toBe('awaitSLMLogits');
    const c1Round2 = events.find((e) => e.actor === 'server' && e.kind === 'accepted' && e.message === 'slm-logits' && e.round === 2 && e.sender === 'c1');
    expect(c1Round2?.t, `nats-server down from ${killedAt} to ${backAt}`).toBeGreaterThanOrEqual(backAt);
    expect(log.some((l) => /disconnected from .*; reconnecting/.test(l))).toBe(true);
  });
});
