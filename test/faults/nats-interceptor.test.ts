/**
 * The fault interceptor is a Transport wrapper: the same rules act on the NATS transport (wall
 * clock, bytes copied on the way) as on the in-memory one. Skipped without a nats-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WallClock } from '../../core/clock/clock.js';
import { FaultInterceptor, type FaultEvent } from '../../core/faults/interceptor.js';
import { parseScenario } from '../../core/scenario/load.js';
import { startNatsServer, type NatsServerHandle } from '../../core/nats/server-process.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';
import type { TransportMessage } from '../../core/transport/transport.js';
import { captureLog, natsServerAvailable, waitFor } from '../nats/helpers.js';

describe.skipIf(!natsServerAvailable)('message faults over NATS', () => {
  let server: NatsServerHandle;
  const transports: NatsTransport[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await server?.stop();
  });

  it('drops, corrupts, duplicates and delays by subject-derived type, sender and round', async () => {
    const { faults } = parseScenario(`name: n
rounds: 5
server: { model: bigram }
clients: [ { id: c1, model: bigram } ]
faults:
  messages:
    - { action: drop, type: slm-logits, from: c1, round: 2 }
    - { action: corrupt, round: 3, bytes: 1 }
    - { action: duplicate, round: 4, to: server }
    - { action: delay, round: 5, ms: 150 }
`);
    const events: FaultEvent[] = [];
    const clock = new WallClock();
    const status = { stateOf: () => ({ state: 'awaitSLMLogits', round: 1 }), online: () => true, epoch: () => 0 };
    const wrap = async () => {
      const t = await NatsTransport.connect({ servers: server.url, logger: captureLog().logger });
      transports.push(t);
      return new FaultInterceptor(t, { clock, seed: 1, recorder: { event: (e) => events.push(e) }, status, rules: faults.messages, partitions: [] });
    };
    const [senderSide, serverSide] = [await wrap(), await wrap()];
    const got: TransportMessage[] = [];
    serverSide.view('server').subscribe('fedmkt.n.*.slm-logits.*', (m) => got.push(m));
    await new Promise((r) => setTimeout(r, 50));
    const c1 = senderSide.view('c1');
    const sentAt = new Map<number, number>();
    for (let round = 1; round <= 5; round++) {
      sentAt.set(round, Date.now());
      await c1.publish(`fedmkt.n.r${round}.slm-logits.c1`, Uint8Array.of(round, round, round), { sender: 'c1', messageId: `c1:${round}` });
    }
    await waitFor('the deliveries', () => got.length === 5);
    expect(got.map((m) => m.subject.split('.')[2])).toEqual(['r1', 'r3', 'r4', 'r4', 'r5']);
    expect([...got[1]!.data]).not.toEqual([3, 3, 3]);
    expect(events.map((e) => [e.kind, e.msgRound, e.from, e.type])).toEqual([
      ['drop', 2, 'c1', 'slm-logits'],
      ['corrupt', 3, 'c1', 'slm-logits'],
      ['duplicate', 4, 'c1', 'slm-logits'],
      ['delay', 5, 'c1', 'slm-logits'],
    ]);
  });
});
