/**
 * Resuming a deployment over NATS: two processes' worth of actors (two runOverNats calls with
 * their own connections and output folders) agree on the round to resume after and go on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import type { LearningStack } from '../../actors/federation.js';
import { runOverNats } from '../../actors/nats-deployment.js';
import type { RoundMetrics, RunEvent } from '../../core/records.js';
import { startNatsServer, type NatsServerHandle } from '../../core/nats/server-process.js';
import { loadScenario } from '../../core/scenario/load.js';
import { natsServerAvailable } from './helpers.js';

const GROUPS = [
  ['server', 'c1'],
  ['c2', 'c3'],
] as const;

function jsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as T);
}

/** Per (round, actor): what it learned. */
function learned(dirs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const dir of dirs)
    for (const m of jsonl<RoundMetrics>(join(dir, 'metrics.jsonl'))) {
      const key = `${m.round}/${m.actor}`;
      if (key in out) throw new Error(`${dir}: two metrics rows for ${key}`);
      out[key] = { accuracy: m.accuracy, publicCE: m.publicCE, trainLoss: m.trainLoss, distillLoss: m.distillLoss };
    }
  return out;
}

describe.skipIf(!natsServerAvailable)('resuming a deployment over NATS', () => {
  let nats: NatsServerHandle;
  let learning: LearningStack;
  beforeAll(async () => {
    nats = await startNatsServer();
    learning = await defaultLearningStack({ workers: 0 });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const deploy = (root: string, rounds: number, resume: boolean, timeoutMs = 60_000) =>
    Promise.all(
      GROUPS.map((parties, i) =>
        runOverNats(loadScenario('scenarios/nats-small.yaml', { overrides: [{ path: 'rounds', value: rounds }] }), {
          servers: nats.url,
          parties,
          learning,
          outDir: join(root, `process-${i}`),
          checkpoints: true,
          resume,
          resumeTimeoutMs: timeoutMs,
        }),
      ),
    );

  it('agrees on the latest round every process checkpointed, and learns what a planned run learns', { timeout: 180_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedmkt-nats-resume-'));
    await deploy(root, 2, false);
    // c3's process died before it saved round 2: the deployment resumes after round 1.
    rmSync(join(root, 'process-1', 'checkpoints', 'c3', 'round-2'), { recursive: true });
    const resumed = await deploy(root, 3, true);
    for (const result of resumed) {
      expect(result.failures).toEqual({});
      expect(Object.values(result.finalStates)).toEqual(['done', 'done']);
    }
    const dirs = GROUPS.map((_, i) => join(root, `process-${i}`));
    const events = dirs.flatMap((dir) => jsonl<RunEvent>(join(dir, 'events.jsonl')));
    expect(events.filter((e) => e.kind === 'resume').map((e) => [e.actor, e.round])).toEqual([
      ['server', 1],
      ['c1', 1],
      ['c2', 1],
      ['c3', 1],
    ]);
    // Message ids go on after the ones the first deployment used: none is used twice.
    const sent = events.filter((e) => e.kind === 'send').map((e) => String(e.id));
    expect(new Set(sent).size).toBe(sent.length);
    const accepted = events.filter((e) => e.kind === 'accepted' && e.actor === 'server' && e.message === 'slm-logits');
    expect(accepted.map((e) => e.round).sort()).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);

    const planned = mkdtempSync(join(tmpdir(), 'fedmkt-nats-planned-'));
    await deploy(planned, 3, false);
    expect(learned(dirs)).toEqual(learned(GROUPS.map((_, i) => join(planned, `process-${i}`))));
  });

  it('stops every process with the reason when no round is checkpointed by all', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fedmkt-nats-noresume-'));
    await deploy(root, 1, false);
    rmSync(join(root, 'process-1', 'checkpoints', 'c2'), { recursive: true });
    const results = await Promise.allSettled(
      GROUPS.map((parties, i) =>
        runOverNats(loadScenario('scenarios/nats-small.yaml', { overrides: [{ path: 'rounds', value: 2 }] }), {
          servers: nats.url,
          parties,
          learning,
          outDir: join(root, `process-${i}`),
          resume: true,
          resumeTimeoutMs: 10_000,
        }),
      ),
    );
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(String((r as PromiseRejectedResult).reason)).toMatch(
        /no round was checkpointed by every actor \(rounds per actor: server: 1; c1: 1; c2: none; c3: 1\)/,
      );
    }
  });
});
