/**
 * The explorer's parts on their own: properties, coverage, delta debugging, schedules and the
 * virtual clock's order choices.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../core/clock/virtual-clock.js';
import { coverageOf, coverageRatio, formatCoverage, mergeCoverage, possibleCells } from '../../core/explore/coverage.js';
import { checkRun, parseProperty, signatureOf, type RunFacts } from '../../core/explore/properties.js';
import { parseScheduleFile, RecordingScheduler, ReplayScheduler, type ChoicePoint, type Scheduler } from '../../core/schedule/choices.js';
import { actorOptions, faultSpace, messageOptions, parseFaultKinds } from '../../core/schedule/fault-space.js';
import { ddmin } from '../../explore/shrink.js';
import { ownerOf } from '../../explore/strategies.js';

const facts = (over: Partial<RunFacts> = {}): RunFacts => ({
  events: [],
  metrics: [],
  finalStates: { server: 'done', c1: 'done', c2: 'done' },
  violations: [],
  timedOut: false,
  failures: {},
  ...over,
});

describe('properties', () => {
  it('parses what --expect takes and refuses the rest, naming the text', () => {
    expect(parseProperty('completed')).toEqual({ kind: 'completed', text: 'completed' });
    expect(parseProperty('accuracy.c2 >= 0.4')).toMatchObject({ kind: 'accuracy', actor: 'c2', op: '>=', value: 0.4 });
    expect(parseProperty('skippedRounds<1')).toMatchObject({ kind: 'skippedRounds', op: '<', value: 1 });
    expect(() => parseProperty('accuracy >= 1')).toThrow('--expect "accuracy >= 1": name the actor');
    expect(() => parseProperty('latency.c1 < 3')).toThrow('unknown property latency.c1');
    expect(() => parseProperty('skippedRounds = 1')).toThrow("expected completed, 'accuracy.<actor> >= X'");
  });

  it('names the property, the round and the actors of what a run broke', () => {
    const skipped = facts({
      events: [{ t: 5, actor: 'server', round: 2, kind: 'quorum', outcome: 'skip-round' }],
      finalStates: { server: 'done', c1: 'failed', c2: 'offline (dropout in round 1 at trainPrivate)' },
    });
    expect(checkRun(skipped, [parseProperty('completed'), parseProperty('skippedRounds <= 0')])).toEqual([
      { property: 'completed', message: 'round 2 skipped for want of a quorum', round: 2, actors: ['server'] },
      { property: 'completed', message: 'not done at the end: c1 (failed)', round: null, actors: ['c1'] },
      { property: 'skippedRounds <= 0', message: '1 round skipped (2)', round: 2, actors: ['server'] },
    ]);
    const learned = facts({
      metrics: [
        { round: 1, actor: 'c1', accuracy: 0.5 },
        { round: 2, actor: 'c1', accuracy: 0.25 },
      ],
    });
    expect(checkRun(learned, [parseProperty('accuracy.c1 >= 0.3')])).toEqual([
      { property: 'accuracy.c1 >= 0.3', message: 'accuracy of c1 after round 2 is 0.250', round: 2, actors: ['c1'] },
    ]);
    expect(checkRun(learned, [parseProperty('accuracy.c1 >= 0.2')])).toEqual([]);
    expect(checkRun(facts({ timedOut: true, failures: { c1: 'still in awaitLLMLogits after 99 virtual s' } }), [])[0]).toMatchObject({
      property: 'ends',
      actors: ['c1'],
    });
  });

  it('tells failures apart by what broke, not by ids, numbers or which client', () => {
    const one = { property: 'invariant:once', message: 'c1 accepted finish server:8 twice', round: 4, actors: ['c1'] };
    const other = { ...one, message: 'c3 accepted finish server:12 twice', actors: ['c3'] };
    expect(signatureOf(one)).toBe(signatureOf(other));
    expect(signatureOf(one)).not.toBe(signatureOf({ ...one, message: 'c1 accepted llm-logits server:8 twice' }));
  });
});

describe('coverage', () => {
  it('counts each fault in the state of the actor it met; drops that are consequences do not count', () => {
    const cov = coverageOf([
      { actor: 'c1', kind: 'state', state: 'awaitLLMLogits' },
      { actor: 'server', kind: 'state', state: 'awaitSLMLogits' },
      { actor: 'c1', kind: 'drop', cause: 'messages[0]' },
      { actor: 'c1', kind: 'drop', cause: 'offline' },
      { actor: 'c1', kind: 'delay', cause: 'explore' },
      { actor: 'network', kind: 'partition', phase: 'start', actors: ['c1', 'server'] },
      { actor: 'network', kind: 'partition', phase: 'end', actors: ['c1', 'server'] },
      { actor: 'server', kind: 'crash', state: 'awaitSLMLogits' },
    ]);
    expect(cov.cells).toEqual({ 'client:awaitLLMLogits': { drop: 1, delay: 1, partition: 1 }, 'server:awaitSLMLogits': { partition: 1, crash: 1 } });
    const merged = mergeCoverage(mergeCoverage({ cells: {}, runs: 0 }, cov), cov);
    expect(merged.runs).toBe(2);
    expect(merged.cells['client:awaitLLMLogits']).toEqual({ drop: 2, delay: 2, partition: 2 });
    expect(coverageRatio(merged, ['drop', 'crash']).hit).toBe(2);
    expect(formatCoverage(merged, ['drop', 'crash'])).toMatch(/2 of \d+ \(state x fault\) cells exercised over 2 runs$/);
  });

  it("leaves out what a scenario cannot reach: FedAvg's states without FedAvg, aborting without the abort policy, a server's dropout", () => {
    const cells = possibleCells(undefined, { fedAvg: false, abort: false }).map((c) => `${c.state}/${c.kind}`);
    expect(cells).not.toContain('client:fedAvg.awaitAverage/drop');
    expect(cells).not.toContain('server:aborting/crash');
    expect(cells).not.toContain('server:awaitSLMLogits/dropout');
    expect(cells).toContain('server:awaitFinishAcks/drop');
  });
});

describe('delta debugging', () => {
  it('keeps a 1-minimal subset that still fails', async () => {
    const result = await ddmin([1, 2, 3, 4, 5, 6, 7, 8, 9], async (xs) => xs.includes(3) && xs.includes(7));
    expect(result.items).toEqual([3, 7]);
    expect(result.truncated).toBe(false);
  });

  it('returns nothing when the failure needs nothing, and stops at its run budget', async () => {
    expect((await ddmin([1, 2, 3], async () => true)).items).toEqual([]);
    const capped = await ddmin(
      Array.from({ length: 64 }, (_, i) => i),
      async (xs) => xs.includes(5) && xs.includes(50),
      3,
    );
    expect(capped.truncated).toBe(true);
    expect(capped.runs).toBeLessThanOrEqual(4);
  });
});

describe('schedules', () => {
  const point = (key: string, options: string[], kind: ChoicePoint['kind'] = 'message'): ChoicePoint => ({ key, kind, options, scenarioChoice: 0 });

  it('replays by key: listed keys take their option by name, the rest their quiet one; misfits are kept', () => {
    const replay = new ReplayScheduler([
      { key: 'msg:c1:1>server', choice: 'drop' },
      { key: 'rule:messages[0]:c1:2>server', choice: 'apply' },
      { key: 'actor:c2:r1:trainPrivate#1', choice: 'crash:never' },
      { key: 'never:reached', choice: 'drop' },
    ]);
    expect(replay.choose(point('msg:c1:1>server', ['none', 'drop', 'delay:1000']))).toBe(1);
    expect(replay.choose(point('msg:c1:2>server', ['none', 'drop']))).toBe(0);
    expect(replay.choose({ ...point('rule:messages[0]:c1:2>server', ['skip', 'apply'], 'rule'), scenarioChoice: 0 })).toBe(1);
    expect(replay.choose({ ...point('rule:messages[0]:c1:3>server', ['skip', 'apply'], 'rule'), scenarioChoice: 1 })).toBe(0);
    expect(replay.choose(point('actor:c2:r1:trainPrivate#1', ['none', 'crash:1000']))).toBe(0);
    expect(replay.mismatches).toEqual([{ key: 'actor:c2:r1:trainPrivate#1', choice: 'crash:never', options: ['none', 'crash:1000'] }]);
    expect(replay.unreached()).toEqual(['never:reached']);
  });

  it('records every choice and lists only the ones that differ from the quiet ones', () => {
    const picks = [1, 0, 2];
    const rec = new RecordingScheduler({ choose: () => picks.shift() as number } satisfies Scheduler);
    rec.choose(point('a', ['none', 'drop']));
    rec.choose(point('b', ['none', 'drop']));
    rec.choose(point('order@5:x|y|z', ['x', 'y', 'z'], 'order'));
    expect(rec.made).toHaveLength(3);
    expect(rec.schedule()).toEqual([
      { key: 'a', choice: 'drop' },
      { key: 'order@5:x|y|z', choice: 'z' },
    ]);
    expect(() => rec.choose(point('c', ['none']))).toThrow('scheduler chose option undefined at c, which offers 1');
  });

  it('reads schedule files, naming the file and the field of what is wrong', () => {
    const ok = { format: 'fedmkt-schedule', version: 1, scenario: 's', seed: 1, choices: [{ key: 'k', choice: 'drop' }] };
    expect(parseScheduleFile(JSON.stringify(ok), 'f.json').choices).toEqual([{ key: 'k', choice: 'drop' }]);
    expect(() => parseScheduleFile('{', 'f.json')).toThrow(/^f\.json: not JSON/);
    expect(() => parseScheduleFile(JSON.stringify({ ...ok, version: 2 }), 'f.json')).toThrow('f.json: version: expected 1, got 2');
    expect(() => parseScheduleFile(JSON.stringify({ ...ok, choices: [{ key: 3 }] }), 'f.json')).toThrow('f.json: choices[0]: expected { key, choice } strings');
  });

  it('sizes the fault space from the deadlines and restricts it to the kinds asked for', () => {
    const space = faultSpace({ uploadMs: 20_000, llmLogitsMs: 30_000 }, parseFaultKinds('drop,crash,partition', '--faults'));
    expect(messageOptions(space)).toEqual(['none', 'drop']);
    expect(actorOptions(space, 'client')).toEqual([
      'none',
      'crash:1000',
      'crash:never',
      'crash:1000@1000',
      'crash:never@1000',
      'partition:1000',
      'partition:30000',
    ]);
    expect(actorOptions(faultSpace({ uploadMs: 20_000, llmLogitsMs: 30_000 }), 'server')).not.toContain('dropout:rejoin');
    expect(() => parseFaultKinds('drop,typo', '--faults')).toThrow('--faults: unknown fault kind "typo"');
  });

  it("PCT's owners: the actor an event is for", () => {
    expect(ownerOf('c2:timer')).toBe('c2');
    expect(ownerOf('server:distillFromSLMs')).toBe('server');
    expect(ownerOf('net:fedmkt.run.r1.slm-logits.c3')).toBe('c3');
    expect(ownerOf('net:fedmkt.run.r1.llm-logits')).toBe('server');
    expect(ownerOf('fault:c1:4>server')).toBe('server');
  });
});

describe('the virtual clock with a scheduler', () => {
  it('asks which of the events due at the same time goes first, by label; without one, they go in order', async () => {
    const run = async (scheduler?: Scheduler) => {
      const clock = new VirtualClock();
      if (scheduler) clock.useScheduler(scheduler);
      const fired: string[] = [];
      for (const label of ['a', 'b', 'c']) clock.setTimeout(() => fired.push(label), 10, label);
      clock.setTimeout(() => fired.push('later'), 20, 'later');
      await clock.run();
      return fired;
    };
    expect(await run()).toEqual(['a', 'b', 'c', 'later']);
    const asked: string[][] = [];
    const last: Scheduler = {
      choose: (p) => {
        asked.push([...p.options]);
        return p.options.length - 1;
      },
    };
    expect(await run(last)).toEqual(['c', 'b', 'a', 'later']);
    expect(asked).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b'],
    ]);
  });
});
