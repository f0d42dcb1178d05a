/** `run --ui-pace`: the virtual clock moves no faster than the pace, so that a person can follow. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../../core/clock/virtual-clock.js';
import { fedmktHere } from '../cli/helpers.js';

/** The waits of the clock's run, in ms: what it asked setTimeout for. */
async function waitsOf(pace: number | undefined, at: number[]): Promise<number[]> {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  spy.mockClear();
  const clock = new VirtualClock();
  const fired: number[] = [];
  for (const t of at) clock.setTimeout(() => fired.push(clock.now()), t);
  await clock.run(pace === undefined ? {} : { pace });
  expect(fired).toEqual(at);
  const waits = spy.mock.calls.map((call) => Number(call[1]));
  spy.mockRestore();
  return waits;
}

describe('pacing a local run', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('waits the virtual time between events divided by the pace, a second at most', async () => {
    expect(await waitsOf(10, [500, 1500, 601_500])).toEqual([50, 100, 1000]);
    expect(await waitsOf(undefined, [500, 1500])).toEqual([]);
  });

  it('is refused for a run over NATS, which is on the wall clock', async () => {
    const r = await fedmktHere(['run', 'scenarios/nats-small.yaml', '--spawn-nats', '--ui-pace', '5']);
    expect([r.status, r.stderr.split('\n')[0]]).toEqual([2, 'fedmkt run: --ui-pace: a run over NATS is on the wall clock already; drop --ui-pace']);
  });
});
