/**
 * What `validate` and `run` refuse before a run starts: unknown names (tokenizer, model preset,
 * task, architecture), missing files, and problems caused by command-line flags, each with its
 * line or flag and a did-you-mean where a known name is close.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario/load.js';
import { closestName } from '../../core/suggest.js';
import { problems } from './problems.js';

const base = `name: t
rounds: 3
server: { model: llama-tiny }
clients:
  - { id: c1, model: gpt2-tiny }
  - { id: c2, model: gpt2-tiny }
`;

describe('names a run would not know', () => {
  it('an unknown tokenizer, listing the known ones and the close one', () => {
    expect(problems(base.replace('{ id: c2, model: gpt2-tiny }', '{ id: c2, model: gpt2-tiny, tokenizer: gpt7 }'))).toEqual([
      '6 clients[1].tokenizer: unknown tokenizer "gpt7" (known: gpt2, opt, llama2, llama3, qwen3, gemma3; did you mean "gpt2"?)',
    ]);
    // Nothing close: no guess.
    expect(problems(base.replace('model: llama-tiny }', 'model: llama-tiny, tokenizer: sentencepiece }'))[0]).toMatch(
      /^3 server.tokenizer: unknown tokenizer "sentencepiece" \(known: gpt2, [^;]*\)$/,
    );
  });

  it('a tokenizer folder that is not there, or lacks its files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    expect(problems(base.replace('model: llama-tiny }', `model: llama-tiny, tokenizer: ${dir} }`))).toEqual([
      `3 server.tokenizer: tokenizer folder ${dir} has no tokenizer_config.json`,
    ]);
    expect(problems(base.replace('model: llama-tiny }', `model: llama-tiny, tokenizer: ${dir}/nope }`))[0]).toContain(`no tokenizer at ${dir}/nope`);
  });

  it('an unknown model preset or architecture', () => {
    expect(problems(base.replace('{ model: llama-tiny }', '{ model: lama-tiny }'))).toEqual([
      '3 server.model: unknown model preset "lama-tiny" (known: gpt2-tiny, gpt2-small, gpt2-small-real, llama-tiny, bloom-tiny, llama-small, bigram, bigram-r<rank>; did you mean "llama-tiny"?)',
    ]);
    expect(problems(base.replace('{ id: c1, model: gpt2-tiny }', '{ id: c1, model: { arch: lama, layers: 1, heads: 2, dModel: 32 } }'))).toEqual([
      '5 clients[0].model.arch: expected one of gpt2, llama, bloom, qwen2, opt, got "lama" (did you mean "llama"?)',
    ]);
    expect(problems(base.replace('{ model: llama-tiny }', '{ model: bigram-r999 }'))).toEqual([
      '3 server.model: model "bigram-r999": rank must be between 1 and 256',
    ]);
  });

  it('an unknown task, and a dataset that is not there', () => {
    expect(problems(`${base}task: { name: boolqq }\n`)).toEqual([
      expect.stringMatching(/^7 task.name: unknown task "boolqq" \(known: builtin, arc_easy, .*; did you mean "boolq"\?\)$/),
    ]);
    expect(problems(`${base}task: { name: boolq, path: /nonexistent/boolq }\n`)).toEqual(['7 task.path: /nonexistent/boolq does not exist']);
    const dir = mkdtempSync(join(tmpdir(), 'fedmkt-arc-'));
    writeFileSync(join(dir, 'ARC-Easy-Train.jsonl'), '');
    expect(problems(`${base}task: { name: arc_easy, path: ${dir} }\n`)).toEqual([
      `7 task.path: arc_easy reads ARC-Easy-Train.jsonl, ARC-Easy-Dev.jsonl; ${dir} has no ARC-Easy-Dev.jsonl`,
    ]);
  });

  it('a pretraining corpus or straggler trace that is not there', () => {
    const text = base.replace('{ model: llama-tiny }', '{ model: llama-tiny, pretrain: { corpus: /nonexistent/corpus.txt } }');
    expect(problems(text)).toEqual(['3 server.pretrain.corpus: /nonexistent/corpus.txt does not exist (a text or JSONL corpus, or "builtin")']);
    expect(problems(`${base}faults: { stragglers: { traceFile: /nonexistent/trace.csv } }\n`)).toEqual([
      '7 faults.stragglers.traceFile: /nonexistent/trace.csv does not exist',
    ]);
  });

  it('lists these with the schema problems in one report, and suggests known fields', () => {
    const text = base.replace('{ id: c1, model: gpt2-tiny }', '{ id: c1, model: gpt2-tiny, tokenizer: gtp2, traning: {} }');
    expect(problems(text)).toEqual([
      '5 clients[0].traning: unknown field (did you mean "training"?)',
      '5 clients[0].tokenizer: unknown tokenizer "gtp2" (known: gpt2, opt, llama2, llama3, qwen3, gemma3; did you mean "gpt2"?)',
    ]);
  });
});

it('where no actor runs (nats-config, watch), files need not be here; names are still checked', () => {
  const text = `${base.replace('{ model: llama-tiny }', '{ model: llama-tiny, tokenizer: /models/tok, pretrain: { corpus: /corpora/c.txt } }')}task: { name: boolq, path: /data/boolq }\n`;
  expect(problems(text, { filesHere: false })).toEqual([]);
  expect(problems(text)).toHaveLength(3);
  expect(problems(text.replace('name: boolq', 'name: boolqq'), { filesHere: false })).toEqual([expect.stringMatching(/task.name: unknown task "boolqq"/)]);
});

describe('problems caused by flags', () => {
  it('name the flag instead of a line of the file', () => {
    expect(problems(base, { overrides: [{ path: 'rounds', value: 0, flag: '--rounds 0' }] })).toEqual([
      '--rounds 0 rounds: expected a positive integer, got 0',
    ]);
    expect(problems(base, { overrides: [{ path: 'faults.dropot.p', value: 0.1, flag: '--set faults.dropot.p=0.1' }] })).toEqual([
      '--set faults.dropot.p=0.1 faults.dropot: unknown field (did you mean "dropout"?)',
    ]);
    expect(problems(base, { overrides: [{ path: 'clients.1.tokenizer', value: 'gpt7', flag: '--set clients.1.tokenizer=gpt7' }] })[0]).toMatch(
      /^--set clients.1.tokenizer=gpt7 clients\[1\].tokenizer: unknown tokenizer "gpt7"/,
    );
  });

  it('a --rounds shorter than the fault script says which faults fall outside, and drops them when asked', () => {
    const scripted = `${base}faults:\n  crashes: [{ actor: server, state: distillFromSLMs, round: 3 }]\n  dropout: { script: [{ client: c1, round: 2, state: trainPrivate }, { client: c2, round: 3, state: trainPrivate }] }\n`;
    const rounds = { path: 'rounds', value: 2, flag: '--rounds 2' };
    expect(problems(scripted, { overrides: [rounds] })).toEqual([
      '--rounds 2 rounds: the fault script names later rounds: faults.crashes[0] (server crashes in round 3), faults.dropout.script[1] (c2 drops out in round 3); add --drop-late-faults to run without them',
    ]);
    const notes: string[] = [];
    const s = parseScenario(scripted, 'x.yaml', { overrides: [rounds], dropLateFaults: true, onNote: (n) => notes.push(n) });
    expect(s.rounds).toBe(2);
    expect(s.faults.crashes).toEqual([]);
    expect(s.faults.dropout.script.map((d) => d.client)).toEqual(['c1']);
    expect(notes).toEqual(['--rounds 2: left out faults.crashes[0] (server crashes in round 3), faults.dropout.script[1] (c2 drops out in round 3)']);
    // The file's own mistake stays the file's, with its line.
    expect(problems(scripted.replace('rounds: 3', 'rounds: 2'))[0]).toMatch(/^8 faults.crashes\[0\].round: round 3 is after the last round \(2\)/);
  });
});

describe('did you mean', () => {
  it('offers a name within a third of its length in edits (two for short ones), ignoring case', () => {
    expect(closestName('gpt7', ['gpt2', 'opt'])).toBe('gpt2');
    expect(closestName('gtp2', ['gpt2', 'opt'])).toBe('gpt2');
    expect(closestName('LLAMA2', ['llama2', 'llama3'])).toBe('llama2');
    expect(closestName('sentencepiece', ['gpt2', 'opt'])).toBeUndefined();
    expect(closestName('x', ['gpt2'])).toBeUndefined();
  });
});

it('a dataset folder in place passes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedmkt-boolq-'));
  mkdirSync(join(dir, 'boolq'));
  writeFileSync(join(dir, 'boolq', 'val.jsonl'), '');
  expect(problems(`${base}task: { name: boolq, path: ${join(dir, 'boolq')} }\n`)).toEqual([]);
  expect(problems(`${base}task: { name: boolq, path: ${join(dir, 'boolq', 'val.jsonl')} }\n`)).toEqual([]);
});
