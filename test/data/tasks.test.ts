import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetsAvailable, datasetsRoot } from '../../core/data/datasets-root.js';
import type { MultipleChoiceTask, Task } from '../../core/data/task.js';
import { loadTask, REAL_TASK_NAMES, type RealTaskName } from '../../core/data/tasks/registry.js';

const haveData = datasetsAvailable();
if (!haveData) console.warn(`shared datasets not found at ${datasetsRoot()}: real-task loader tests are skipped`);

const SEED = 1;
const load = (name: RealTaskName, extra: { limit?: number } = {}) => loadTask(name, { seed: SEED, ...extra });

function mc(task: Task): MultipleChoiceTask {
  if (task.kind !== 'multiple-choice') throw new Error(`${task.name} is not multiple choice`);
  return task;
}

/** Train and test come from one file: every record sits on exactly one side. */
function expectHeldOut(task: Task, records: number, testCount: number) {
  expect(task.train.length + task.test.length).toBe(records);
  expect(task.test).toHaveLength(testCount);
  expect(task.source?.heldOut).toEqual({ fraction: 0.2, seed: SEED });
}

describe.skipIf(!haveData)('real task loaders (shared datasets)', () => {
  it('arc_easy: Train trains, Dev evaluates, paper prompt, exam source as domain', async () => {
    const task = mc(await load('arc_easy'));
    expect([task.train.length, task.test.length]).toEqual([2251, 570]);
    expect(task.train[0]).toEqual({
      prompt: 'Question: Which factor will most likely cause a person to develop a fever?\nAnswer:',
      answer: ' a bacterial population in the bloodstream',
      choices: [
        ' a leg muscle relaxing after exercise',
        ' a bacterial population in the bloodstream',
        ' several viral particles on the skin',
        ' carbohydrates being digested in the stomach',
      ],
      label: 1,
      domain: 'Mercury',
    });
    expect(task.test[0]).toMatchObject({ prompt: 'Question: Which technology was developed most recently?\nAnswer:', label: 0, domain: 'MCAS' });
    // Numeric answer keys ("1".."4") resolve against numeric choice labels.
    expect(task.train.every((e) => e.label >= 0 && e.label < e.choices.length)).toBe(true);
  });

  it('arc_challenge', async () => {
    const task = mc(await load('arc_challenge'));
    expect([task.train.length, task.test.length]).toEqual([1119, 299]);
    expect(task.train[0]).toMatchObject({ answer: ' dry palms', label: 0, domain: 'Mercury' });
    expect(task.test[0]!.choices[task.test[0]!.label]).toBe(' Record the details of the investigation.');
  });

  it('openbookqa: lm-eval prompt is the bare stem', async () => {
    const task = mc(await load('openbookqa'));
    expect([task.train.length, task.test.length]).toEqual([4957, 500]);
    expect(task.train[0]).toMatchObject({ prompt: 'The sun is responsible for', answer: ' plants sprouting, blooming and wilting', label: 3 });
    expect(task.test[0]).toMatchObject({ label: 0, choices: [' Deep sea animals', ' fish', ' Long Sea Fish', ' Far Sea Animals'] });
  });

  it('commonsenseqa: lm-eval lettered prompt, held out from the train file', async () => {
    const task = mc(await load('commonsenseqa'));
    expectHeldOut(task, 9741, 1948);
    const all = [...task.train, ...task.test];
    const first = all.find((e) => e.prompt.startsWith('Question: The sanctions against the school'))!;
    expect(first.prompt).toBe(
      'Question: The sanctions against the school were a punishing blow, and they seemed to what the efforts the school had made to change?\n' +
        'A. ignore\nB. enforce\nC. authoritarian\nD. yell at\nE. avoid\nAnswer:',
    );
    expect(first).toMatchObject({ choices: [' A', ' B', ' C', ' D', ' E'], label: 0, domain: 'punishing' });
  });

  it('boolq: paper prompt, yes/no, held out from the validation file', async () => {
    const task = mc(await load('boolq'));
    expectHeldOut(task, 3270, 654);
    const all = [...task.train, ...task.test];
    const first = all.find((e) => e.prompt.startsWith('Ethanol fuel -- All biomass'))!;
    expect(first.prompt.endsWith('\nQuestion: does ethanol take more energy make that produces?\nAnswer:')).toBe(true);
    expect(first).toMatchObject({ choices: [' no', ' yes'], label: 0, domain: 'no' });
  });

  it('rte: paper prompt, True for entailment', async () => {
    const task = mc(await load('rte'));
    expectHeldOut(task, 2490, 498);
    const all = [...task.train, ...task.test];
    const first = all.find((e) => e.prompt.startsWith('No Weapons of Mass Destruction Found in Iraq Yet.'))!;
    expect(first.prompt).toBe(
      'No Weapons of Mass Destruction Found in Iraq Yet.\nQuestion: Weapons of Mass Destruction Found in Iraq. True or False?\nAnswer:',
    );
    expect(first).toMatchObject({ choices: [' True', ' False'], label: 1, domain: 'not_entailment' });
  });

  it('wic: lm-eval prompt with the surface form from sentence 1', async () => {
    const task = mc(await load('wic'));
    expectHeldOut(task, 5428, 1086);
    const all = [...task.train, ...task.test];
    const laugh = all.find((e) => e.prompt.startsWith('Sentence 1: Paul laughed a cheerful laugh.'))!;
    expect(laugh.prompt).toBe(
      "Sentence 1: Paul laughed a cheerful laugh.\nSentence 2: She laughed her excitement.\nQuestion: Is the word 'laughed' used in the same way in the two sentences above?\nAnswer:",
    );
    expect(laugh).toMatchObject({ choices: [' no', ' yes'], label: 1, domain: 'yes' });
  });

  it('dialogsum: generation task, topic as domain, reference without the leading space', async () => {
    const task = await load('dialogsum');
    if (task.kind !== 'generation') throw new Error('dialogsum must be a generation task');
    expectHeldOut(task, 500, 100);
    const first = [
      ...task.train.map((e) => ({ prompt: e.prompt, text: e.answer.slice(1), domain: e.domain })),
      ...task.test.map((i) => ({ prompt: i.prompt, text: i.reference, domain: i.domain })),
    ].find((e) => e.prompt.startsWith('Summarize the following dialogue.\n#Person1#: Hello, how are you doing today?'))!;
    expect(first.prompt.endsWith('Thank you for your help, doctor.\nSummary:')).toBe(true);
    expect(first.text.startsWith('#Person2# has trouble breathing.')).toBe(true);
    expect(first.domain).toBe('see a doctor');
    for (const e of task.train) expect(e.answer.startsWith(' ')).toBe(true);
  });

  it('never puts an evaluation record into training, whatever the limit', async () => {
    for (const name of ['rte', 'boolq'] as const) {
      const full = mc(await load(name));
      const limited = mc(await load(name, { limit: 50 }));
      expect([limited.train.length, limited.test.length]).toEqual([50, 50]);
      const fullTest = new Set(full.test.map((i) => i.prompt));
      const fullTrain = new Set(full.train.map((e) => e.prompt));
      for (const i of limited.test) expect(fullTest.has(i.prompt)).toBe(true);
      for (const e of limited.train) expect(fullTrain.has(e.prompt)).toBe(true);
    }
    expect(await load('rte')).toEqual(await load('rte'));
  });

  it('loads every registered real task', async () => {
    for (const name of REAL_TASK_NAMES) {
      const task = await load(name, { limit: 5 });
      expect(task.name).toBe(name);
      expect(task.train.length).toBe(5);
      expect(task.test.length).toBe(5);
    }
  });
});

describe('loader errors name file, line and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedmkt-data-'));
  const arcLine = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: 'X_1',
      question: {
        stem: 'Why?',
        choices: [
          { label: 'A', text: 'a' },
          { label: 'B', text: 'b' },
        ],
      },
      answerKey: 'A',
      ...over,
    });

  it('reports a missing field', async () => {
    const bad = JSON.stringify({
      id: 'X_2',
      question: {
        choices: [
          { label: 'A', text: 'a' },
          { label: 'B', text: 'b' },
        ],
      },
      answerKey: 'A',
    });
    writeFileSync(join(dir, 'ARC-Easy-Train.jsonl'), `${arcLine()}\n${bad}\n`);
    writeFileSync(join(dir, 'ARC-Easy-Dev.jsonl'), `${arcLine()}\n`);
    await expect(loadTask('arc_easy', { seed: 1, path: dir })).rejects.toThrow(`${join(dir, 'ARC-Easy-Train.jsonl')}:2: field "question.stem"`);
  });

  it('reports an answer key that names no choice', async () => {
    writeFileSync(join(dir, 'ARC-Easy-Train.jsonl'), `${arcLine()}\n`);
    writeFileSync(join(dir, 'ARC-Easy-Dev.jsonl'), `${arcLine()}\n\n${arcLine({ answerKey: 'E' })}\n`);
    await expect(loadTask('arc_easy', { seed: 1, path: dir })).rejects.toThrow(
      /ARC-Easy-Dev\.jsonl:3: field "answerKey": "E" is not one of the choice labels A, B/,
    );
  });

  it('reports invalid JSON and bad enum values', async () => {
    const rteDir = mkdtempSync(join(tmpdir(), 'fedmkt-rte-'));
    writeFileSync(join(rteDir, 'train.jsonl'), '{"premise": "p", "hypothesis": "h", "label": "entailment"}\n{"premise": \n');
    await expect(loadTask('rte', { seed: 1, path: rteDir })).rejects.toThrow(/train\.jsonl:2: invalid JSON/);
    writeFileSync(join(rteDir, 'train.jsonl'), '{"premise": "p", "hypothesis": "h", "label": "maybe"}\n');
    await expect(loadTask('rte', { seed: 1, path: rteDir })).rejects.toThrow(/train\.jsonl:1: field "label"/);
  });

  it('reports a WiC span outside its sentence', async () => {
    const wicDir = mkdtempSync(join(tmpdir(), 'fedmkt-wic-'));
    writeFileSync(join(wicDir, 'train.jsonl'), `${JSON.stringify({ sentence1: 'short', sentence2: 's', start1: 2, end1: 9, label: true })}\n`);
    await expect(loadTask('wic', { seed: 1, path: wicDir })).rejects.toThrow(/train\.jsonl:1: field "end1": span \[2, 9\)/);
  });

  it('reports a missing file and an unknown task', async () => {
    await expect(loadTask('boolq', { seed: 1, path: join(dir, 'nowhere') })).rejects.toThrow(/cannot read dataset file .*nowhere\/val\.jsonl/);
    await expect(loadTask('squad', { seed: 1 })).rejects.toThrow(/unknown task "squad"; known tasks: builtin, arc_easy/);
  });
});

describe('datasets root', () => {
  it('defaults to <repo>/../shared/datasets and honours FEDMKT_DATASETS', () => {
    expect(datasetsRoot({})).toMatch(/\/shared\/datasets$/);
    expect(datasetsRoot({ FEDMKT_DATASETS: '/data/x' })).toBe('/data/x');
  });

  it('serves the built-in task through the registry', async () => {
    const task = await loadTask('builtin', { seed: 3, limit: 10, builtin: { domains: 2 } });
    expect(task.kind).toBe('multiple-choice');
    expect(task.train).toHaveLength(10);
    expect(new Set(task.test.map((i) => i.domain))).toEqual(new Set(['city', 'sound']));
  });
});
