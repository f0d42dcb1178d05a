/**
 * One test per message fault: the fault happens where the rule says (recorded as a fault
 * decision), and the protocol reacts as designed. Every run keeps all invariants.
 */
import { describe, expect, it } from 'vitest';
import { runFederation, type RunResult } from '../../actors/federation.js';
import type { RunEvent } from '../../core/records.js';
import { bigramLearning, bigramScenario, eventsOf } from './helpers.js';

async function run(faults: string, options: Parameters<typeof bigramScenario>[0] = {}): Promise<RunResult> {
  const result = await runFederation(bigramScenario({ ...options, extra: `faults:\n${faults}` }), { learning: bigramLearning() });
  expect(result.violations).toEqual([]);
  expect(result.failures).toEqual({});
  return result;
}

const accepted = (events: readonly RunEvent[], actor: string, message: string) =>
  events.filter((e) => e.kind === 'accepted' && e.actor === actor && e.message === message);

describe('message faults', () => {
  it("drop: c1's round-1 upload never reaches the server, which proceeds at the deadline with the quorum", async () => {
    const { recorder } = await run('  messages: [ { action: drop, type: slm-logits, from: c1, round: 1 } ]');
    const events = recorder.events;
    expect(eventsOf(events, 'drop')).toEqual([expect.objectContaining({ actor: 'server', type: 'slm-logits', id: 'c1:1', msgRound: 1, cause: 'messages[0]' })]);
    expect(
      accepted(events, 'server', 'slm-logits')
        .filter((e) => e.round === 1)
        .map((e) => e.sender),
    ).toEqual(['c2', 'c3', 'c4']);
    expect(eventsOf(events, 'quorum')[0]).toMatchObject({ round: 1, accepted: 3, needed: 2, outcome: 'proceed', t: 20000 });
    // c1 still gets round 1's LLM logits and works on.
    expect(accepted(events, 'c1', 'llm-logits').map((e) => e.round)).toEqual([1, 2, 3]);
  });

  it("delay: c2's upload arrives after the deadline and is ignored as late", async () => {
    // c4 is too slow for any deadline, so every round lasts its full 20 s.
    const slow = { profiles: ['{ msPerTrainSample: 20 }', '{ msPerTrainSample: 20 }', '{ msPerTrainSample: 20 }', '{ msPerTrainSample: 5000 }'] };
    const { recorder } = await run('  messages: [ { action: delay, type: slm-logits, from: c2, round: 1, ms: 25000 } ]', slow);
    const events = recorder.events;
    const delay = eventsOf(events, 'delay')[0]!;
    expect(delay).toMatchObject({ actor: 'server', id: 'c2:1', ms: 25000 });
    const deliver = events.find((e) => e.kind === 'deliver' && e.actor === 'server' && e.id === 'c2:1')!;
    expect(deliver.t - delay.t).toBe(25000);
    expect(events.find((e) => e.kind === 'ignored' && e.messageId === 'c2:1')).toMatchObject({ round: 1, atRound: 2, reason: 'late' });
  });

  it('duplicate: c3 receives every LLM broadcast three times, accepts it once and ignores the copies', async () => {
    const { recorder } = await run('  messages: [ { action: duplicate, type: llm-logits, to: c3, copies: 2, gapMs: 10 } ]');
    const events = recorder.events;
    expect(eventsOf(events, 'duplicate', 'c3')).toHaveLength(3);
    for (const round of [1, 2, 3]) {
      const id = events.find((e) => e.kind === 'send' && e.type === 'llm-logits' && e.round === round)!.id;
      expect(events.filter((e) => e.kind === 'deliver' && e.actor === 'c3' && e.id === id)).toHaveLength(3);
      expect(events.filter((e) => e.kind === 'accepted' && e.actor === 'c3' && e.messageId === id)).toHaveLength(1);
      expect(events.filter((e) => e.kind === 'ignored' && e.actor === 'c3' && e.messageId === id).map((e) => e.reason)).toEqual(['duplicate', 'duplicate']);
    }
  });

  it("reorder: round 2's announcement reaches c2 only after round 2's LLM logits; c2 catches up later", async () => {
    const { recorder } = await run('  messages: [ { action: reorder, type: round-start, to: c2, round: 2 } ]');
    const events = recorder.events;
    expect(eventsOf(events, 'reorder')).toEqual([expect.objectContaining({ actor: 'c2', type: 'round-start', msgRound: 2 })]);
    const delivered = events.filter((e) => e.kind === 'deliver' && e.actor === 'c2' && e.msgRound === 2).map((e) => e.type);
    expect(delivered).toEqual(['llm-logits', 'round-start']);
    // The early LLM logits of an unannounced round change nothing; the server went on without c2.
    expect(events.find((e) => e.kind === 'ignored' && e.actor === 'c2' && e.message === 'llm-logits')).toMatchObject({ round: 2, reason: 'future' });
    expect(
      accepted(events, 'server', 'slm-logits')
        .filter((e) => e.round === 2)
        .map((e) => e.sender),
    ).not.toContain('c2');
  });

  it("corrupt: flipped bytes in c3's upload fail the checksum; the endpoint rejects it and the machine never sees it", async () => {
    const { recorder } = await run('  messages: [ { action: corrupt, type: slm-logits, from: c3, round: 1, bytes: 2 } ]');
    const events = recorder.events;
    const corrupt = eventsOf(events, 'corrupt')[0]!;
    expect(corrupt).toMatchObject({ actor: 'server', id: 'c3:1' });
    expect((corrupt.positions as number[]).length).toBe(2);
    const reject = eventsOf(events, 'reject', 'server')[0]!;
    expect(reject.subject).toBe('fedmkt.faults-test.r1.slm-logits.c3');
    expect(String(reject.error)).toMatch(/checksum mismatch .*corrupted in transit/);
    expect(events.some((e) => e.kind === 'accepted' && e.messageId === 'c3:1')).toBe(false);
  });

  it('partition: c4 is cut off for the first 15 s, misses round 1, and takes part again from round 2', async () => {
    const { recorder } = await run('  partitions: [ { actors: [c4], fromMs: 0, toMs: 15000 } ]');
    const events = recorder.events;
    expect(eventsOf(events, 'partition').map((e) => [e.t, e.phase])).toEqual([
      [0, 'start'],
      [15000, 'end'],
    ]);
    expect(eventsOf(events, 'drop', 'c4')).toEqual([expect.objectContaining({ type: 'round-start', msgRound: 1, cause: 'partition[0]' })]);
    const uploads = accepted(events, 'server', 'slm-logits');
    expect(uploads.filter((e) => e.round === 1).map((e) => e.sender)).toEqual(['c1', 'c2', 'c3']);
    expect(uploads.filter((e) => e.round === 2).map((e) => e.sender)).toContain('c4');
  });

  it('rules select by probability and limit, with seeded, order-independent draws', async () => {
    const faults = '  messages: [ { action: drop, p: 0.3 }, { action: duplicate, type: round-start, limit: 2 } ]';
    const a = await runFederation(bigramScenario({ extra: `faults:\n${faults}` }), { learning: bigramLearning() });
    const b = await runFederation(bigramScenario({ extra: `faults:\n${faults}` }), { learning: bigramLearning() });
    expect(a.violations).toEqual([]);
    const drops = eventsOf(a.recorder.events, 'drop');
    expect(drops.length).toBeGreaterThan(2);
    expect(eventsOf(a.recorder.events, 'duplicate')).toHaveLength(2);
    expect(JSON.stringify(b.recorder.events)).toBe(JSON.stringify(a.recorder.events));
  });
});
