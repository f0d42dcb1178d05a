import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from '../../core/scenario/load.js';
import { quorumCount } from '../../core/scenario/schema.js';
import { problems } from './problems.js';

const base = `name: t
rounds: 2
server: { model: llama-tiny }
clients:
  - { id: c1, model: gpt2-tiny }
  - { id: c2, model: gpt2-tiny }
  - { id: c3, model: gpt2-tiny }
`;

describe('scenario files', () => {
  it.for(readdirSync('scenarios').filter((f) => f.endsWith('.yaml')))('shipped scenario %s validates', (f, ctx) => {
    const file = `scenarios/${f}`;
    // A scenario with a real checkpoint reads it from ../shared, which a clone on its own lacks.
    const shared = /\.\.\/shared\/[^\s,}]+/.exec(readFileSync(file, 'utf8').replace(/#.*$/gm, ''))?.[0];
    ctx.skip(shared !== undefined && !existsSync(shared), `${file} reads ${shared}, which does not exist here (../shared from the repository root)`);
    expect(() => loadScenario(file)).not.toThrow();
  });

  it('fills defaults and resolves quorum fractions', () => {
    const s = parseScenario(base);
    expect(s.protocol.kdAlpha).toBe(0.9);
    expect(s.protocol.awaitLLMLogits.onMissing).toBe('self-distil');
    expect(s.clients[0]!.tokenizer).toBe('gpt2');
    expect(quorumCount(parseScenario(`${base}protocol: { awaitSLMLogits: { quorum: 0.5 } }\n`))).toBe(2);
  });

  it('names every problem with its path, line and the offending value', () => {
    const text = `${base}protocol:\n  topK: "abc"\n  kdAlpha: 2\n  surprise: 1\n`;
    expect(problems(text)).toEqual([
      '9 protocol.topK: expected a positive integer, got "abc"',
      '10 protocol.kdAlpha: Too big: expected number to be <=1, got 2',
      '11 protocol.surprise: unknown field',
    ]);
  });

  it('reports problems inside list items and model specs', () => {
    const text = base.replace('{ id: c2, model: gpt2-tiny }', '{ id: c2, model: { arch: gpt2, layers: 2, heads: 3, dModel: 64 }, training: { batchSize: 0 } }');
    expect(problems(text)).toEqual([
      '6 clients[1].model.dModel: dModel must be divisible by heads',
      '6 clients[1].training.batchSize: expected a positive integer, got 0',
    ]);
  });

  it('rejects duplicate client ids and an impossible quorum', () => {
    expect(problems(base.replace('id: c3', 'id: c1'))).toEqual(['7 clients[2].id: duplicate client id "c1" (also clients[0])']);
    expect(problems(`${base}protocol: { awaitSLMLogits: { quorum: 4 } }\n`)[0]).toMatch(
      /quorum: expected a fraction below 1 or a whole count of at most 3 clients, got 4/,
    );
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('name: t\nrounds: [1\n')[0]).toMatch(/^\d+ : YAML:/);
  });
});
