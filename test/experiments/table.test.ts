import { describe, expect, it } from 'vitest';
import { methodsFor, type MethodRun } from '../../apps/experiments/methods.js';
import { aggregate, renderCsv, renderMarkdown, stat, type ExperimentTable } from '../../apps/experiments/table.js';

const score = (value: number, accNorm = value) => ({ metric: 'acc' as const, value, accNorm, n: 10 });

describe('experiment tables', () => {
  it('stat: mean and sample standard deviation; non-finite values are left out', () => {
    expect(stat([])).toBeNull();
    expect(stat([0.5])).toEqual({ mean: 0.5, std: 0, n: 1, values: [0.5] });
    const s = stat([1, 2, 3, Number.NaN])!;
    expect(s.mean).toBe(2);
    expect(s.std).toBeCloseTo(1, 12);
    expect(s.n).toBe(3);
  });

  it('rows per setting: the paper baselines of each, then FedMKT per logit encoding', () => {
    expect(methodsFor('heterogeneous').map((m) => m.id)).toEqual([
      'slm-zs',
      'llm-zs',
      'standalone',
      'centralized-llm',
      'fedmkt-f32',
      'fedmkt-f16',
      'fedmkt-q8',
    ]);
    expect(methodsFor('homogeneous', ['f32']).map((m) => m.id)).toEqual(['slm-zs', 'llm-zs', 'standalone', 'fedavg', 'centralized-llm', 'fedmkt-f32']);
    expect(methodsFor('one-to-one', ['q8']).map((m) => m.id)).toEqual(['slm-zs', 'llm-zs', 'standalone', 'llm2slm', 'centralized-llm', 'fedmkt-q8']);
  });

  it('aggregates over seeds (SLM = mean of clients per seed) and renders Markdown and CSV', () => {
    const methods = methodsFor('heterogeneous', ['f32']).filter((m) => ['slm-zs', 'llm-zs', 'fedmkt-f32'].includes(m.id));
    const formula = { n: 4, meanLength: 10, k: 8, nlk: 320, f32Bytes: 2560 };
    const comm = (up: number) => ({
      rounds: 2,
      upPerClient: up,
      downPerClient: up + 10,
      slmLogitsBytes: up - 5,
      slmFormula: formula,
      llmLogitsBytes: up,
      llmFormula: formula,
      llmLogitsMessages: 2,
    });
    const runs: MethodRun[] = [
      { method: 'slm-zs', label: 'SLM-ZS', seed: 1, llm: null, slms: { c1: score(0.2), c2: score(0.4) }, wallSeconds: 1 },
      { method: 'slm-zs', label: 'SLM-ZS', seed: 2, llm: null, slms: { c1: score(0.4), c2: score(0.6) }, wallSeconds: 1 },
      { method: 'llm-zs', label: 'LLM-ZS', seed: 1, llm: score(0.5), slms: null, wallSeconds: 1 },
      { method: 'llm-zs', label: 'LLM-ZS', seed: 2, llm: score(0.7), slms: null, wallSeconds: 1 },
      { method: 'fedmkt-f32', label: 'FedMKT', seed: 1, llm: score(0.6), slms: { c1: score(0.5), c2: score(0.5) }, communication: comm(2600), wallSeconds: 5 },
      { method: 'fedmkt-f32', label: 'FedMKT', seed: 2, llm: score(0.8), slms: { c1: score(0.7), c2: score(0.7) }, communication: comm(2600), wallSeconds: 7 },
    ];
    const rows = aggregate(methods, runs, ['c1', 'c2']);
    expect(rows.map((r) => r.method)).toEqual(['slm-zs', 'llm-zs', 'fedmkt-f32']);
    expect(rows[0]!.slm!.values).toEqual([0.30000000000000004, 0.5]);
    expect(rows[0]!.llm).toBeNull();
    expect(rows[1]!.slm).toBeNull();
    expect(rows[1]!.llm!.mean).toBeCloseTo(0.6, 12);
    expect(rows[2]!.clients!.c1!.mean).toBeCloseTo(0.6, 12);
    expect(rows[2]!.upPerClient!.mean).toBe(2600);
    const table: ExperimentTable = {
      setting: 'heterogeneous',
      task: 'builtin',
      metric: 'acc',
      seeds: [1, 2],
      rounds: 2,
      baseFile: 'scenarios/quickstart.yaml',
      command: 'npx fedmkt experiment heterogeneous --seeds 2',
      clients: ['c1', 'c2'],
      methods: methods.map((m) => ({ id: m.id, label: m.label, kind: m.kind })),
      rows,
      runs,
      hyperparameters: { rounds: 2 },
      data: {},
      scenarios: {},
    };
    const md = renderMarkdown(table);
    expect(md).toContain('| SLM-ZS | 0.400 ± 0.141 | 0.300 ± 0.141 | 0.500 ± 0.141 | — |');
    expect(md).toContain('| FedMKT | 4 | 10.0 / 10.0 | 8 | 320 | 2.5 KiB | 2.5 KiB | 1.014 |');
    expect(md).toContain('Reproduce: `npx fedmkt experiment heterogeneous --seeds 2`');
    expect(md).toContain('"rounds": 2');
    const csv = renderCsv(table).trim().split('\n');
    expect(csv).toHaveLength(4);
    expect(csv[0]!.split(',').slice(0, 8)).toEqual(['setting', 'task', 'metric', 'seeds', 'method', 'label', 'slm_mean', 'slm_std']);
    expect(csv[3]!.split(',').slice(4, 7)).toEqual(['fedmkt-f32', 'FedMKT', '0.6']);
  });
});
