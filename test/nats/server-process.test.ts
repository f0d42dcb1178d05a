import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { startNatsCluster, startNatsServer } from '../../core/nats/server-process.js';
import { natsServerAvailable } from './helpers.js';

const accepts = async (url: string) => {
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 1_000 });
    await nc.close();
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!natsServerAvailable)('nats-server processes', () => {
  it('starts on a free loopback port with the options asked for, and stops', async () => {
    const server = await startNatsServer({ jetstream: true, maxPayload: 2 * 1024 * 1024 });
    expect(server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const nc = await connect({ servers: server.url });
    expect(nc.info?.max_payload).toBe(2 * 1024 * 1024);
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
    await server.stop();
    await server.stop();
    expect(await accepts(server.url)).toBe(false);
  });

  it('restarts a killed server on the same port with its JetStream file store', async () => {
    const server = await startNatsServer({ jetstream: true });
    try {
      const nc = await connect({ servers: server.url });
      await (await jetstreamManager(nc)).streams.add({ name: 'KEPT', subjects: ['kept.>'] });
      await jetstream(nc).publish('kept.one', new Uint8Array([7]));
      await nc.close();
      const before = server.pid;
      await server.restart();
      expect(server.pid).not.toBe(before);
      const again = await connect({ servers: server.url });
      const stored = await (await jetstreamManager(again)).streams.getMessage('KEPT', { seq: 1 });
      expect(stored?.subject).toBe('kept.one');
      expect([...(stored?.data ?? [])]).toEqual([7]);
      await again.close();
    } finally {
      await server.stop();
    }
    await expect(server.restart()).rejects.toThrow(/was stopped: it cannot be restarted/);
  });

  it('reports a configuration nats-server rejects, with its log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-badconf-'));
    try {
      const file = join(dir, 'bad.conf');
      writeFileSync(file, 'authorization { users = [ { user: ');
      await expect(startNatsServer({ configFile: file })).rejects.toThrow(/exited with code 1 before accepting connections:\n.*bad.conf/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts a routed cluster and stops single nodes', async () => {
    const cluster = await startNatsCluster(3);
    try {
      expect(new Set(cluster.urls).size).toBe(3);
      await expect(cluster.stopNode(5)).rejects.toThrow(/no node 5 in a cluster of 3/);
      await cluster.stopNode(1);
      expect(await accepts(cluster.urls[1] as string)).toBe(false);
      expect(await accepts(cluster.urls[0] as string)).toBe(true);
    } finally {
      await cluster.stop();
    }
  });
});
