/**
 * Stopping a run: Ctrl-C says how to go on from the checkpoints; killing `fedmkt` ends the run
 * and everything it started (no process left running the federation or its nats-server).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { epochProgress } from '../../actors/base-models.js';
import { tinyScenario } from '../federation/tiny-scenario.js';
import { natsServerAvailable, waitFor } from '../nats/helpers.js';
import { fedmkt, startFedmkt } from './helpers.js';

/** Processes whose command line mentions `marker` (the run's own folder): the run and anything it started. */
function processesWith(marker: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(marker) && !line.includes('ps -eo'));
}

/** Whether something accepts connections on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function scenarioFile(rounds: number): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fedmkt-signals-'));
  const file = join(dir, 'tiny.yaml');
  writeFileSync(file, stringify({ ...tinyScenario(), rounds }));
  return { dir, file };
}

describe('stopping a run', () => {
  it('Ctrl-C prints how to resume, and the resume goes on from there', { timeout: 180_000 }, async () => {
    const { dir, file } = scenarioFile(6);
    const out = join(dir, 'run');
    const run = startFedmkt(['run', file, '--out', out, '--quiet', '--workers', '0']);
    await waitFor(
      'round 1 checkpointed by every actor',
      () => ['server', 'c1', 'c2', 'c3'].every((a) => existsSync(join(out, 'checkpoints', a, 'round-1', 'actor.json'))),
      120_000,
    );
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.output()).toMatch(
      new RegExp(`\\[fedmkt\\] interrupted; every actor has checkpointed round \\d+\\. Go on from there with:\\n  npx fedmkt run --resume ${out}\\n`),
    );
    const resumed = fedmkt(['run', '--resume', out, '--quiet', '--workers', '0']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* after round \d+/);
  });

  it('killing fedmkt ends the run: nothing of it is left running', { timeout: 120_000 }, async () => {
    const { dir, file } = scenarioFile(50);
    const out = join(dir, 'killed-run');
    const run = startFedmkt(['run', file, '--out', out, '--quiet', '--workers', '1']);
    await waitFor('the first round', () => existsSync(join(out, 'checkpoints', 'server', 'round-1')), 90_000);
    expect(processesWith(out).length).toBeGreaterThan(0);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(run.output()).toContain('[fedmkt] interrupted');
    await waitFor('no process of the run', () => processesWith(out).length === 0, 5_000);
  });

  it.skipIf(!natsServerAvailable)('killing fedmkt run --spawn-nats stops its nats-server too', { timeout: 120_000 }, async () => {
    const { dir, file } = scenarioFile(50);
    const out = join(dir, 'nats-run');
    const run = startFedmkt(['run', file, '--spawn-nats', '--out', out, '--quiet', '--workers', '0']);
    await waitFor('the nats-server', () => run.output().includes('started nats-server at'), 90_000);
    const port = /started nats-server at nats:\/\/127\.0\.0\.1:(\d+)/.exec(run.output())![1]!;
    expect(await listening(Number(port))).toBe(true);
    await waitFor('the first round', () => existsSync(join(out, 'checkpoints', 'server', 'round-1')), 90_000);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(await listening(Number(port))).toBe(false);
  });
});

describe('pretraining progress', () => {
  it('says where a long pretraining is, every few seconds, and nothing for a quick one', () => {
    const lines: string[] = [];
    let now = 0;
    const onEpoch = epochProgress(
      'base model llama (gpt2)',
      10,
      (l) => lines.push(l),
      2000,
      () => now,
    );
    for (let epoch = 1; epoch <= 10; epoch++) {
      now += 900;
      onEpoch(epoch, 1 / epoch);
    }
    expect(lines).toEqual([
      'base model llama (gpt2): epoch 3/10, loss 0.333, about 7 s to go',
      'base model llama (gpt2): epoch 6/10, loss 0.167, about 4 s to go',
      'base model llama (gpt2): epoch 9/10, loss 0.111, about 1 s to go',
    ]);
    const quick: string[] = [];
    now = 0;
    const fast = epochProgress(
      'x',
      10,
      (l) => quick.push(l),
      2000,
      () => now,
    );
    for (let epoch = 1; epoch <= 10; epoch++) fast(epoch, 1);
    expect(quick).toEqual([]);
  });
});
