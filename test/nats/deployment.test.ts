import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchEvents } from '../../actors/monitor.js';
import type { RunEvent } from '../../core/records.js';
import { startNatsCluster } from '../../core/nats/server-process.js';
import { NatsTransport } from '../../core/transport/nats-transport.js';
import { fedmktProcess as fedmkt, natsServerAvailable, waitFor } from './helpers.js';

const SCENARIO = 'scenarios/nats-small.yaml';

function events(dir: string): RunEvent[] {
  return readFileSync(join(dir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RunEvent);
}

describe.skipIf(!natsServerAvailable)('a federation across processes over a 3-node NATS cluster', () => {
  it('completes with every accepted upload counted once when a node stops in the middle of a round', { timeout: 240_000 }, async () => {
    const cluster = await startNatsCluster(3);
    const dirs = Object.fromEntries(['server', 'c1', 'c2', 'c3'].map((id) => [id, mkdtempSync(join(tmpdir(), `fedmkt-${id}-`))]));
    // An observer on node 0 sees every actor's events on the monitoring subject.
    const observer = await NatsTransport.connect({ servers: cluster.urls[0]! });
    const seen: RunEvent[] = [];
    watchEvents(observer, 'nats-small', (e) => seen.push(e));
    const procs = [
      fedmkt(['serve', SCENARIO, '--nats', cluster.urls[0]!, '--out', dirs.server!]),
      fedmkt(['join', SCENARIO, '--client', 'c1', '--nats', cluster.urls[1]!, '--out', dirs.c1!]),
      fedmkt(['join', SCENARIO, '--client', 'c2', '--nats', cluster.urls[1]!, '--out', dirs.c2!]),
      fedmkt(['join', SCENARIO, '--client', 'c3', '--nats', cluster.urls[2]!, '--out', dirs.c3!]),
    ];
    try {
      // Mid-round: the server has announced round 2 and is collecting uploads. c3's node goes.
      await waitFor(
        'round 2 collection',
        () => seen.some((e) => e.actor === 'server' && e.kind === 'state' && e.state === 'awaitSLMLogits' && e.round === 2),
        180_000,
      );
      await cluster.stopNode(2);
      const codes = await Promise.all(procs.map((p) => p.exit));
      expect(codes, procs.map((p) => p.output()).join('\n----\n')).toEqual([0, 0, 0, 0]);
    } finally {
      for (const p of procs) p.child.kill();
      await observer.close();
      await cluster.stop();
    }
    const server = events(dirs.server!);
    for (const round of [1, 2]) {
      const accepted = server.filter((e) => e.kind === 'accepted' && e.message === 'slm-logits' && e.round === round);
      expect(new Set(accepted.map((e) => e.sender)).size).toBe(accepted.length);
      expect(accepted.length).toBeGreaterThanOrEqual(2);
    }
    expect(server.filter((e) => e.kind === 'state').at(-1)!.state).toBe('done');
    // The observer saw every actor, over the whole federation.
    expect(new Set(seen.map((e) => e.actor))).toEqual(new Set(['server', 'c1', 'c2', 'c3']));
    for (const id of ['c1', 'c2', 'c3'])
      expect(
        events(dirs[id]!)
          .filter((e) => e.kind === 'state')
          .at(-1)!.state,
      ).toBe('done');
  });
});
