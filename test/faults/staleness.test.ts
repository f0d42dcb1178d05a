/**
 * The late-upload policy `protocol.awaitSLMLogits.lateMessages`: `drop` (default) or
 * `{ acceptWithinRounds: n }`. On the machine itself, then in a whole federation.
 */
import { describe, expect, it } from 'vitest';
import { runFederation } from '../../actors/federation.js';
import { serverMachine, type ServerPolicy } from '../../machines/server.js';
import { harness, tinyLogits } from '../machines/fixtures.js';
import { bigramLearning, bigramScenario } from './helpers.js';

const WORK = ['evaluate', 'announceRound', 'alignSLMTokens', 'distillFromSLMs', 'computeLLMLogits', 'broadcastLLMLogits', 'averageAdapters', 'announceFinish'];
const up = (sender: string, round: number, messageId = `${sender}:r${round}`) => ({
  type: 'SLM_LOGITS' as const,
  round,
  sender,
  messageId,
  logits: tinyLogits(),
});

function server(lateAcceptWithinRounds: number | undefined, plan: Record<number, [number, ReturnType<typeof up>][]>) {
  const policy: ServerPolicy = {
    uploadDeadlineMs: 1000,
    quorum: 1,
    onQuorumLost: 'skip-round',
    adapterDeadlineMs: 500,
    fedAvg: false,
    llmFrozen: false,
    lateAcceptWithinRounds,
    finishRetryMs: 1000,
    finishAttempts: 1,
  };
  return harness(
    serverMachine,
    WORK,
    { totalRounds: 4, clients: ['c1', 'c2', 'c3'], policy },
    {
      durations: { alignSLMTokens: 10, distillFromSLMs: 10, computeLLMLogits: 10, broadcastLLMLogits: 10 },
      outputs: {
        alignSLMTokens: (input: { uploads: { client: string }[] }) => ({ teachers: input.uploads.map((u) => ({ client: u.client, teacher: {} })) }),
        computeLLMLogits: () => ({ logits: tinyLogits() }),
      },
      hooks: { announceRound: (input: { round: number }, h) => (plan[input.round] ?? []).forEach(([ms, e]) => h.sendAt(ms, e)) },
    },
  );
}

describe('late uploads', () => {
  // c3's round-1 upload reaches the server while it collects round 2; round-3's... in round 3.
  const plan = {
    1: [[100, up('c1', 1)]] as [number, ReturnType<typeof up>][],
    2: [
      [100, up('c1', 2)],
      [200, up('c3', 1)],
      [300, up('c3', 2)],
    ] as [number, ReturnType<typeof up>][],
    4: [
      [100, up('c1', 4)],
      [200, up('c2', 1)],
      [300, up('c2', 3)],
    ] as [number, ReturnType<typeof up>][],
  };

  it('drop (default): every upload of an earlier round is ignored as late', async () => {
    const s = server(undefined, plan);
    await s.run();
    expect(s.recordsOf('accepted').map((r) => `${r.round}:${r.sender}`)).toEqual(['1:c1', '2:c1', '2:c3', '4:c1']);
    expect(s.recordsOf('ignored').map((r) => `${r.messageId}@${r.atRound}:${r.reason}`)).toEqual(['c3:r1@2:late', 'c2:r1@4:late', 'c2:r3@4:late']);
  });

  it('acceptWithinRounds: a late upload counts toward the open round once, within the bound, if the client has none', async () => {
    const s = server(2, plan);
    await s.run();
    expect(s.recordsOf('accepted')).toEqual([
      { type: 'accepted', round: 1, messageId: 'c1:r1', sender: 'c1', message: 'slm-logits' },
      { type: 'accepted', round: 2, messageId: 'c1:r2', sender: 'c1', message: 'slm-logits' },
      // round 1's upload counted toward round 2 ...
      { type: 'accepted', round: 2, messageId: 'c3:r1', sender: 'c3', message: 'slm-logits', msgRound: 1 },
      { type: 'accepted', round: 4, messageId: 'c1:r4', sender: 'c1', message: 'slm-logits' },
      // ... round 3's toward round 4 (1 round late) but not round 1's (3 rounds late).
      { type: 'accepted', round: 4, messageId: 'c2:r3', sender: 'c2', message: 'slm-logits', msgRound: 3 },
    ]);
    expect(s.recordsOf('ignored').map((r) => `${r.messageId}@${r.atRound}:${r.reason}`)).toEqual([
      'c3:r2@2:duplicate', // c3 already has an upload counted in round 2
      'c2:r1@4:late',
    ]);
    const [, align2, align4] = s.callsOf('alignSLMTokens'); // round 3 had no upload: skipped
    expect(align2!.input.uploads.map((u: { client: string }) => u.client)).toEqual(['c1', 'c3']);
    expect(align4!.input.uploads.map((u: { client: string }) => u.client)).toEqual(['c1', 'c2']);
  });

  it('a copy of an upload already counted, in its own round or late, is a duplicate and never counts again', async () => {
    // A duplicated or delayed copy can reach the server rounds after the original counted.
    const s = server(2, {
      1: [[100, up('c1', 1)]],
      2: [
        [50, up('c1', 1)],
        [100, up('c2', 1)],
        [150, up('c1', 2)],
      ],
      3: [
        [50, up('c2', 1)],
        [60, up('c1', 1)],
        [100, up('c1', 3)],
      ],
      4: [
        [50, up('c1', 2)],
        [60, up('c1', 1)],
        [100, up('c1', 4)],
      ],
    });
    await s.run();
    expect(s.recordsOf('accepted').map((r) => `${r.messageId}@${r.round}`)).toEqual(['c1:r1@1', 'c2:r1@2', 'c1:r2@2', 'c1:r3@3', 'c1:r4@4']);
    expect(s.recordsOf('ignored').map((r) => `${r.messageId}@${r.atRound}:${r.reason}`)).toEqual([
      'c1:r1@2:duplicate',
      'c2:r1@3:duplicate', // counted late in round 2
      'c1:r1@3:duplicate',
      'c1:r2@4:duplicate',
      'c1:r1@4:late', // past the staleness window: late, as any upload that old
    ]);
  });

  it("in a federation: a straggler's upload that misses round r counts toward round r+1", async () => {
    const profiles = ['{ msPerTrainSample: 20 }', '{ msPerTrainSample: 30 }', '{ msPerTrainSample: 40 }', '{ msPerTrainSample: 2000 }'];
    const late = await runFederation(bigramScenario({ rounds: 4, profiles, upload: 'lateMessages: { acceptWithinRounds: 1 }' }), {
      learning: bigramLearning(),
    });
    const dropped = await runFederation(bigramScenario({ rounds: 4, profiles }), { learning: bigramLearning() });
    for (const r of [late, dropped]) expect(r.violations).toEqual([]);
    const fromC4 = (events: typeof late.recorder.events) =>
      events
        .filter((e) => e.actor === 'server' && (e.kind === 'accepted' || e.kind === 'ignored') && e.sender === 'c4' && e.message === 'slm-logits')
        .map((e) => `${e.kind}:${e.round}${e.msgRound ? `<-${e.msgRound}` : ''}`);
    expect(fromC4(late.recorder.events)[0]).toBe('accepted:2<-1');
    expect(fromC4(dropped.recorder.events)[0]).toBe('ignored:1');
    expect(fromC4(dropped.recorder.events).some((x) => x.startsWith('accepted'))).toBe(false);
  });
});
