import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario/load.js';
import { bufferSizeOf, weightingOf } from '../../core/scenario/async-protocol.js';
import { discountedCE, stalenessWeight } from '../../core/learning/staleness.js';
import { SELF, selectTeachers } from '../../core/learning/selection.js';
import type { AlignedTeacher } from '../../core/alignment/aligned-teacher.js';
import { problems } from '../scenario/problems.js';

const base = (protocol: string) => `name: t
rounds: 2
protocol: ${protocol}
server: { model: llama-tiny }
clients:
  - { id: c1, model: gpt2-tiny }
  - { id: c2, model: gpt2-tiny }
  - { id: c3, model: gpt2-tiny }
`;

describe('protocol.mode', () => {
  it('defaults to sync, and buffered fills its buffer with every client unless told', () => {
    const sync = parseScenario(base('{ topK: 4 }'));
    expect(sync.protocol.mode).toBe('sync');
    expect(sync.protocol.staleness).toEqual({ weighting: 'constant', a: 0.5, b: 4, maxStaleness: 8 });
    const buffered = parseScenario(base('{ mode: buffered }'));
    expect(bufferSizeOf(buffered.protocol, 3)).toBe(3);
    expect(bufferSizeOf(parseScenario(base('{ mode: buffered, bufferSize: 2 }')).protocol, 3)).toBe(2);
    const async = parseScenario(base('{ mode: async, staleness: { weighting: hinge, a: 2, b: 1, maxStaleness: 3 }, timeBudgetMs: 60000 }'));
    expect(bufferSizeOf(async.protocol, 3)).toBe(1);
    expect(weightingOf(async.protocol.staleness)).toEqual({ kind: 'hinge', a: 2, b: 1 });
    expect(async.protocol.timeBudgetMs).toBe(60000);
  });

  it('reports wrong fields with their line and path', () => {
    expect(problems(base('{ mode: asynchronous }'))).toEqual(['3 protocol.mode: expected sync, buffered or async, got "asynchronous"']);
    expect(problems(base('{ mode: buffered, bufferSize: 4 }'))).toEqual([
      '3 protocol.bufferSize: expected at most the 3 clients of the run, got 4: the buffer would never fill',
    ]);
    expect(problems(base('{ mode: async, bufferSize: 2 }'))).toEqual([
      '3 protocol.bufferSize: async distils on every upload (a buffer of 1), got 2; use mode buffered',
    ]);
    expect(problems(base('{ bufferSize: 2 }'))).toEqual([
      '3 protocol.bufferSize: a buffer belongs to mode buffered (or async, a buffer of 1); this protocol is sync',
    ]);
    expect(problems(base('{ mode: buffered, fedAvg: true }'))[0]).toMatch(/^3 protocol.fedAvg: FedAvg of adapters needs the synchronous round/);
    expect(problems(base('{ mode: async, staleness: { weighting: linear, maxStaleness: -1 } }'))).toEqual([
      '3 protocol.staleness.weighting: expected constant, polynomial or hinge, got "linear"',
      '3 protocol.staleness.maxStaleness: expected a whole number of LLM versions (>= 0), got -1',
    ]);
  });
});

describe('staleness weights', () => {
  it('constant, polynomial (1 + s)^-a and hinge as in FedAsync', () => {
    expect([0, 1, 5].map((s) => stalenessWeight({ kind: 'constant' }, s))).toEqual([1, 1, 1]);
    expect([0, 1, 3].map((s) => stalenessWeight({ kind: 'polynomial', a: 0.5 }, s))).toEqual([1, 2 ** -0.5, 0.5]);
    expect([0, 2, 3, 5].map((s) => stalenessWeight({ kind: 'hinge', a: 1, b: 2 }, s))).toEqual([1, 1, 0.5, 0.25]);
    expect(() => stalenessWeight({ kind: 'constant' }, -1)).toThrow(/staleness/);
    expect(discountedCE(2, 0.5)).toBe(4);
    expect(discountedCE(2, 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('DualMinCE ranks a stale SLM by its CE divided by its weight; weight 1 changes nothing', () => {
    const teacher = (ce: number[]): AlignedTeacher => ({
      tokenizer: 'gpt2',
      topK: 1,
      lengths: Int32Array.of(1, 1, 1),
      topKIds: Int32Array.of(1, 2, 3),
      topKLogits: Float32Array.of(0, 0, 0),
      source: Uint8Array.of(1, 1, 1),
      ce: Float32Array.from(ce),
    });
    const self = teacher([1.0, 1.0, 1.0]);
    const fresh = teacher([0.9, 1.2, 0.3]);
    const stale = teacher([0.6, 0.4, 0.2]);
    expect(Array.from(selectTeachers(self, [fresh, stale]).chosen)).toEqual([1, 1, 1]);
    expect(Array.from(selectTeachers(self, [fresh, stale], [1, 1]).chosen)).toEqual([1, 1, 1]);
    // Two versions stale under (1 + s)^-1: weight 1/3, ranked by 1.8, 1.2, 0.6.
    const w = stalenessWeight({ kind: 'polynomial', a: 1 }, 2);
    const { chosen, teacher: combined } = selectTeachers(self, [fresh, stale], [1, w]);
    expect(Array.from(chosen)).toEqual([0, SELF, 0]);
    // The combined teacher carries each chosen candidate's own CE, not the discounted one.
    expect(Array.from(combined.ce)).toEqual([0.9, 1.0, 0.3].map(Math.fround));
  });
});
