/**
 * scenarios/stories-real.yaml: the real stories260K as the server LLM on its own llama2.c
 * tokenizer, two SLMs on other tokenizers, through the eight steps of a round. Shrunk here to one
 * round on a few samples without the SLMs' pretraining, so that it runs in seconds; the shipped
 * file runs as it is with `npx fedmkt run scenarios/stories-real.yaml`. Skipped, naming the path,
 * when ../shared is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation } from '../../actors/federation.js';
import { parse, stringify } from 'yaml';
import { parseScenario } from '../../core/scenario/load.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const DIR = join(ROOT, '../shared/models/stories260K');
const CLIENT_STEPS = ['trainPrivate', 'computePublicLogits', 'uploadLogits', 'awaitLLMLogits', 'alignLLMTokens', 'distillFromLLM'];
const SERVER_STEPS = ['awaitSLMLogits', 'alignSLMTokens', 'distillFromSLMs', 'computeLLMLogits', 'broadcastLLMLogits'];

describe('scenarios/stories-real.yaml', () => {
  it('resolves the server to the stories260K checkpoint and runs every step of a round', async (ctx) => {
    ctx.skip(!existsSync(DIR), `stories260K fixture missing: ${DIR} (../shared/models/stories260K from the repository root) does not exist`);
    // the scenario's paths are relative to the repository root
    ctx.skip(process.cwd() !== ROOT, `runs from the repository root (${ROOT}), not ${process.cwd()}`);
    const d = parse(readFileSync(join(ROOT, 'scenarios/stories-real.yaml'), 'utf8'), { merge: true }) as {
      rounds: number;
      task: Record<string, number>;
      clients: Record<string, unknown>[];
    };
    d.rounds = 1;
    Object.assign(d.task, { privateSamplesPerClient: 8, publicSamples: 8, testSamples: 8 });
    for (const c of d.clients) delete c.pretrain;
    const scenario = parseScenario(stringify(d), join(ROOT, 'scenarios/stories-real.yaml'));
    expect(scenario.server.model).toMatchObject({
      arch: 'llama',
      heads: 8,
      kvHeads: 4,
      tieEmbeddings: true,
      checkpoint: '../shared/models/stories260K/stories260K.bin',
    });
    expect(new Set([scenario.server.tokenizer, ...scenario.clients.map((c) => c.tokenizer)]).size).toBe(3);
    const learning = await defaultLearningStack();
    try {
      const result = await runFederation(scenario, { learning });
      expect(result.failures).toEqual({});
      const states = (actor: string): string[] =>
        result.recorder.events.filter((e) => e.kind === 'state' && e.actor === actor && e.round === 1).map((e) => String(e.state));
      expect(states('server').filter((s) => SERVER_STEPS.includes(s))).toEqual(SERVER_STEPS);
      for (const c of scenario.clients) expect(states(c.id).filter((s) => CLIENT_STEPS.includes(s))).toEqual(CLIENT_STEPS);
      const server = result.recorder.metrics.find((m) => m.actor === 'server' && m.round === 1);
      expect(server?.distillLoss).toBeGreaterThan(0);
    } finally {
      await learning.close?.();
    }
  });
});
