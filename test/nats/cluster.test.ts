import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsClusterHandle, startNatsCluster } from '../../core/nats/server-process.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';
import type { TransportMessage } from '../../core/transport/transport.js';
import { captureLog, equalBytes, natsServerAvailable, patternBytes, waitFor } from './helpers.js';

describe.skipIf(!natsServerAvailable)('NATS transport on a 3-node cluster', () => {
  let cluster: NatsClusterHandle;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('routes from node A to node B and survives the loss of the node the publisher is on', async () => {
    const [a, b, c] = cluster.urls as [string, string, string];
    const publisherLog = captureLog();
    const publisher = await NatsTransport.connect({ servers: [a, c], name: 'c1', logger: publisherLog.logger, ackTimeoutMs: 1_000 });
    const subscriber = await NatsTransport.connect({ servers: [b], name: 'server', logger: captureLog().logger });
    expect(subscriber.server).toBe(b.replace('nats://', ''));
    const uploads: TransportMessage[] = [];
    const broadcasts: TransportMessage[] = [];
    subscriber.subscribe('fedmkt.cl.*.slm-logits.*', (m) => uploads.push(m));
    subscriber.subscribe('fedmkt.cl.*.finish', (m) => broadcasts.push(m));
    // Subscription interest reaches the other nodes over the routes asynchronously.
    const first = patternBytes(3 * 1024 * 1024, 1);
    await publisher.publish('fedmkt.cl.r1.slm-logits.c1', first, { sender: 'c1', messageId: 'c1:1' });
    expect(uploads).toHaveLength(1);
    expect(equalBytes(uploads[0]?.data ?? new Uint8Array(), first)).toBe(true);

    const before = publisher.server;
    const index = cluster.urls.findIndex((u) => u.endsWith(before));
    expect(index === 0 || index === 2).toBe(true);
    await cluster.stopNode(index);
    // Published while the client is still finding out that its server is gone.
    const second = patternBytes(2 * 1024 * 1024, 2);
    await publisher.publish('fedmkt.cl.r1.slm-logits.c1', second, { sender: 'c1', messageId: 'c1:2' });
    await publisher.publish('fedmkt.cl.r1.finish', new Uint8Array([1]), { sender: 'c1', messageId: 'c1:3' });
    expect(publisher.server).not.toBe(before);
    await waitFor('the broadcast', () => broadcasts.length === 1);
    expect(uploads).toHaveLength(2);
    expect(equalBytes(uploads[1]?.data ?? new Uint8Array(), second)).toBe(true);
    expect(publisherLog.warnings).toContainEqual(expect.stringMatching(/reconnected to/));
    await new Promise((r) => setTimeout(r, 200));
    expect(broadcasts).toHaveLength(1);
    await publisher.close();
    await subscriber.close();
  });
});
