import { describe, expect, it } from 'vitest';
import { defaultLearningStack } from '../../actors/default-learning.js';
import { runFederation } from '../../actors/federation.js';
import { loadScenario } from '../../core/scenario/load.js';

describe('scenarios/heterogeneous.yaml: five tokenizer families, MinED alignment both ways', () => {
  it('runs end to end and reports, per sender and receiver, the share of positions with a real teacher', { timeout: 300_000 }, async () => {
    const scenario = loadScenario('scenarios/heterogeneous.yaml', { overrides: [{ path: 'rounds', value: 1 }] });
    // Alignment is under test here, not learning: start from random base models.
    delete scenario.server.pretrain;
    for (const c of scenario.clients) delete c.pretrain;
    expect(new Set([scenario.server.tokenizer, ...scenario.clients.map((c) => c.tokenizer)]).size).toBe(5);

    const result = await runFederation(scenario, { learning: await defaultLearningStack() });
    expect(result.failures).toEqual({});
    const round1 = result.recorder.metrics.filter((m) => m.round === 1);
    const server = round1.find((m) => m.actor === 'server')!;
    for (const c of scenario.clients) {
      const upShare = server[`teacherShare.${c.id}`] as number;
      const downShare = round1.find((m) => m.actor === c.id)!.teacherShare as number;
      // Different tokenizers: most positions align one-to-one, some need the fallback.
      for (const share of [upShare, downShare]) {
        expect(share).toBeGreaterThan(0.3);
        expect(share).toBeLessThan(1);
      }
    }
    const alignments = result.recorder.events.filter((e) => e.kind === 'alignment');
    expect(alignments).toHaveLength(2 * scenario.clients.length);
    for (const a of alignments) expect((a.teacherPositions as number) + (a.fallbackPositions as number)).toBeLessThanOrEqual(a.positions as number);
  });
});
