/**
 * A deployment as the README tells a user to run it: `fedmkt nats-config` writes the server
 * configuration and credentials, nats-server runs with it, and `serve`, `join` (one process per
 * client) and `watch` (the observer credential) run with their credentials, then every process
 * resumes (`--resume DIR --rounds 2`) to go on past the run's last round.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../core/records.js';
import { startNatsServer, type NatsServerHandle } from '../../core/nats/server-process.js';
import { fedmkt, ROOT, startFedmkt } from '../cli/helpers.js';
import { natsServerAvailable, waitFor } from './helpers.js';

const CLIENTS = ['c1', 'c2', 'c3'];

describe.skipIf(!natsServerAvailable)('serve, join and watch with the credentials of `fedmkt nats-config`', () => {
  let nats: NatsServerHandle | undefined;
  afterAll(async () => {
    await nats?.stop();
  });

  it('run a deployment, and resume it, each process allowed only its part', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-creds-cli-'));
    const scenario = join(dir, 'small.yaml');
    writeFileSync(scenario, readFileSync(join(ROOT, 'scenarios/nats-small.yaml'), 'utf8').replace(/^rounds: 2$/m, 'rounds: 1'));
    const config = fedmkt(['nats-config', scenario, '--out', join(dir, 'acl')]);
    expect(config.status, config.stderr).toBe(0);
    nats = await startNatsServer({ configFile: join(dir, 'acl', 'nats-server.conf') });
    const creds = (actor: string) => join(dir, 'acl', 'credentials', `${actor}.json`);
    const out = (actor: string) => join(dir, `run-${actor}`);

    const watch = startFedmkt(['watch', scenario, '--nats', nats.url, '--creds', creds('observer')]);
    await waitFor('the watcher', () => watch.output().includes('watching fedmkt.nats-small.events.*'), 60_000);
    const deploy = async (args: (actor: string) => string[]) => {
      const processes = ['server', ...CLIENTS].map((actor) => ({ actor, p: startFedmkt(args(actor)) }));
      for (const { actor, p } of processes) expect(await p.exited, `${actor}:\n${p.output()}`).toBe(0);
      return processes;
    };
    const role = (actor: string) => (actor === 'server' ? ['serve'] : ['join', '--client', actor]);
    await deploy((actor) => [...role(actor), scenario, '--nats', nats!.url, '--creds', creds(actor), '--out', out(actor), '--quiet']);
    const resumed = await deploy((actor) => [...role(actor), '--resume', out(actor), '--rounds', '2', '--nats', nats!.url, '--creds', creds(actor), '--quiet']);
    for (const { p } of resumed) expect(p.output()).toContain('resuming after round 1, the latest round every actor checkpointed');

    // The observer saw every actor resume and finish round 2.
    await waitFor(
      'the last events at the watcher',
      () =>
        watch
          .output()
          .split('\n')
          .filter((l) => l.includes('"state":"done"')).length >= 8,
      30_000,
    );
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
    const events = watch
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as RunEvent);
    expect(
      events
        .filter((e) => e.kind === 'resume')
        .map((e) => e.actor)
        .sort(),
    ).toEqual(['c1', 'c2', 'c3', 'server']);
    expect(new Set(events.filter((e) => e.kind === 'state' && e.state === 'done' && e.round === 2).map((e) => e.actor))).toEqual(
      new Set(['server', ...CLIENTS]),
    );
    const metrics = readFileSync(join(out('server'), 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { round: number });
    expect(metrics.map((m) => m.round)).toEqual([0, 1, 2]);
    expect(watch.output()).not.toMatch(/denied/);
  });
});
