import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
