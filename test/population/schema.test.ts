import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario/load.js';
import { quorumCount } from '../../core/scenario/schema.js';
import { PopulationModel } from '../../core/population/population.js';
import { fedmktHere } from '../cli/helpers.js';
import { problems } from '../scenario/problems.js';

const population = (extra = '', selection = 'selection: { perRound: 100, overcommit: 1.3, strategy: random }') => `name: p
rounds: 2
server: { model: null }
population:
  count: 1000
  clients:
    - { weight: 0.7, model: null, tokenizer: gpt2, profile: { msPerTrainSample: { lognormal: { median: 40, sigma: 0.8 } }, bandwidthMbps: { lognormal: { median: 20, sigma: 1 } } } }
    - { weight: 0.3, model: null, tokenizer: llama2 }
  data: { split: dirichlet, alpha: 0.3 }
${extra}
${selection}
`;

describe('population and selection in a scenario', () => {
  it('parses the issue example; a listed-client scenario is unchanged', () => {
    const s = parseScenario(population());
    expect(s.population?.count).toBe(1000);
    expect(s.clients).toEqual([]);
    expect(s.selection).toEqual({ perRound: 100, overcommit: 1.3, strategy: 'random' });
    expect(quorumCount(s)).toBe(1);
    const model = PopulationModel.of(s);
    expect([model.perRound, model.announced]).toEqual([100, 130]);
    expect(model.indexOf('c999')).toBe(999);
    expect(model.indexOf('c1000')).toBeNull();
    expect(model.indexOf('c01')).toBeNull();
  });

  it('a fraction selects that share of the population', () => {
    const s = parseScenario(population('', 'selection: { fraction: 0.01 }'));
    expect(PopulationModel.of(s).perRound).toBe(10);
  });

  it('bad population, selection and trace input is reported with its line and path', () => {
    expect(problems(population('', 'selection: { perRound: 100, fraction: 0.1 }'))).toEqual(['11 selection: expected one of perRound or fraction']);
    expect(problems(population('', 'selection: { perRound: 5000 }'))).toEqual(['11 selection.perRound: expected at most population.count (1000), got 5000']);
    expect(problems(population('', 'selection: { perRound: 10, overcommit: 0.5, strategy: fastest }'))).toEqual([
      '11 selection.overcommit: expected a factor >= 1, got 0.5',
      '11 selection.strategy: expected one of random, round-robin, availability-aware, got "fastest"',
    ]);
    expect(problems(population('  availability: { trace: /nonexistent/trace.json }'))).toEqual([
      '10 population.availability.trace: /nonexistent/trace.json does not exist',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-pop-'));
    const bad = join(dir, 'trace.json');
    writeFileSync(bad, JSON.stringify({ 1: { active: [10, 5], inactive: [20, 30], finish_time: 100 } }));
    expect(problems(population(`  availability: { trace: ${bad} }`))[0]).toMatch(
      /^10 population.availability.trace: .*client 1: active\[1\] = 5 is before inactive\[0\] = 20/,
    );
    expect(problems(population('  availability: { diurnal: { onlineFraction: 2 } }'))[0]).toMatch(/^10 population.availability.diurnal.onlineFraction/);
    expect(problems(population('  sizes: 3'))).toEqual(['10 population.sizes: unknown field']);
  });

  it('refuses a population with listed clients, selection without one, and a null model in one template only', () => {
    expect(problems(`name: p\nrounds: 1\nserver: { model: null }\nclients: [{ id: c1, model: null }]\nselection: { perRound: 1 }\n`)).toEqual([
      '5 selection: selection chooses among a population: add population (or drop selection)',
    ]);
    expect(problems(population().replace('- { weight: 0.3, model: null', '- { weight: 0.3, model: gpt2-tiny'))).toEqual([
      "8 population.clients[1].model: model: null (the protocol alone, no learning) must be every party's model or none's",
    ]);
  });
});

describe('fedmkt validate on a population', () => {
  it('exits 2 naming each problem with its line and path; the shipped population scenarios are fine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-pop-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, population('  availability: { diurnal: { onlineFraction: 1.6 } }', 'selection: { perRound: 10, overcommit: 0.5 }'));
    const r = await fedmktHere(['validate', file]);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `${file}: 2 problems`,
      '  line 10: population.availability.diurnal.onlineFraction: Too big: expected number to be <=1, got 1.6',
      '  line 11: selection.overcommit: expected a factor >= 1, got 0.5',
    ]);
    const ok = await fedmktHere(['validate', 'scenarios/population.yaml', 'scenarios/population-learning.yaml']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('a population of 100000 clients (1000 uploads per round)');
  });
});
