import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation, type LearningStack } from '../../actors/federation.js';
import type { RunEvent } from '../../core/records.js';
import { tinyScenario } from './tiny-scenario.js';

const CLIENT_STEPS = ['trainPrivate', 'computePublicLogits', 'uploadLogits', 'awaitLLMLogits', 'alignLLMTokens', 'distillFromLLM'];
const SERVER_STEPS = ['awaitSLMLogits', 'alignSLMTokens', 'distillFromSLMs', 'computeLLMLogits', 'broadcastLLMLogits'];

function statesOf(events: readonly RunEvent[], actor: string, round: number): string[] {
  return events.filter((e) => e.kind === 'state' && e.actor === actor && e.round === round).map((e) => String(e.state));
}

describe('a whole federation on the in-memory transport', () => {
  let learning: LearningStack;
  beforeAll(async () => {
    learning = await defaultLearningStack();
  });

  it('runs every step of every round in order, and a repeated run writes identical files', async () => {
    const scenario = tinyScenario();
    const dirs = [mkdtempSync(join(tmpdir(), 'fedmkt-a-')), mkdtempSync(join(tmpdir(), 'fedmkt-b-'))];
    const results = [];
    for (const outDir of dirs) results.push(await runFederation(scenario, { outDir, learning }));
    const [first] = results;
    expect(first!.failures).toEqual({});
    expect(first!.finalStates).toEqual({ server: 'done', c1: 'done', c2: 'done', c3: 'done' });
    const events = first!.recorder.events;
    for (let round = 1; round <= scenario.rounds; round++) {
      expect(statesOf(events, 'server', round).filter((s) => SERVER_STEPS.includes(s))).toEqual(SERVER_STEPS);
      for (const c of ['c1', 'c2', 'c3']) expect(statesOf(events, c, round).filter((s) => CLIENT_STEPS.includes(s))).toEqual(CLIENT_STEPS);
    }
    // Every upload and broadcast was sent, delivered and accepted exactly once.
    const accepted = events.filter((e) => e.kind === 'accepted' && e.message === 'slm-logits');
    expect(accepted).toHaveLength(3 * scenario.rounds);
    expect(new Set(accepted.map((e) => e.messageId)).size).toBe(accepted.length);
    for (const file of ['events.jsonl', 'metrics.jsonl']) expect(readFileSync(join(dirs[1]!, file), 'utf8')).toBe(readFileSync(join(dirs[0]!, file), 'utf8'));
    const metrics = readFileSync(join(dirs[0]!, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(metrics).toHaveLength(4 * (scenario.rounds + 1));
    expect(metrics.every((m) => typeof m.accuracy === 'number')).toBe(true);
  });

  it('proceeds with a quorum when a straggler misses the deadline; the straggler uses the LLM logits it kept', async () => {
    const scenario = tinyScenario();
    scenario.rounds = 2;
    scenario.protocol.awaitSLMLogits.deadlineMs = 5_000; // c3 needs 24 x 500 ms = 12 s to train
    const result = await runFederation(scenario, { learning });
    const events = result.recorder.events;
    expect(events.find((e) => e.kind === 'quorum')).toMatchObject({ actor: 'server', round: 1, accepted: 2, outcome: 'proceed' });
    // c3's uploads came after each round's collection closed: none was counted.
    expect(events.filter((e) => e.actor === 'server' && e.kind === 'accepted' && e.sender === 'c3' && e.message === 'slm-logits')).toEqual([]);
    expect(events.filter((e) => e.kind === 'quorum').map((e) => e.outcome)).toEqual(['proceed', 'proceed']);
    // The LLM's logits reached c3 while it was still training: it kept and used them.
    expect(statesOf(events, 'c3', 1)).toContain('alignLLMTokens');
    expect(result.failures).toEqual({});
  });

  it.skipIf(process.platform !== 'linux')('closes its output files when the run throws, leaving what was written', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'fedmkt-throw-'));
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    const failing: LearningStack = { ...learning, tokenizer: async (name) => Promise.reject(new Error(`no tokenizer ${name} here`)) };
    await expect(runFederation(tinyScenario(), { outDir, learning: failing })).rejects.toThrow(/no tokenizer gpt2 here/);
    expect(openFiles()).toBe(before);
    expect(readFileSync(join(outDir, 'scenario.yaml'), 'utf8')).toMatch(/name: tiny/);
  });
});
