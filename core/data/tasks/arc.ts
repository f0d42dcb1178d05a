/**
 * ARC-Easy and ARC-Challenge (AI2 ARC). The Train file trains, the Dev file evaluates.
 * Prompt (FedMKT paper, as lm-evaluation-harness `arc_easy`): `Question: {stem}\nAnswer:`,
 * target ` {choice text}`.
 * Domain: the exam source, the id's prefix before `_` (Mercury, MCAS, NYSEDREGENTS, ...).
 */
import { join } from 'node:path';
import { choiceExample, type MultipleChoiceTask } from '../task.js';
import { ChoiceQuestionSchema, answerIndex } from './choice-question.js';
import { readJsonl } from './jsonl.js';

export type ArcVariant = 'easy' | 'challenge';

const FILES: Record<ArcVariant, { name: string; train: string; test: string }> = {
  easy: { name: 'arc_easy', train: 'ARC-Easy-Train.jsonl', test: 'ARC-Easy-Dev.jsonl' },
  challenge: { name: 'arc_challenge', train: 'ARC-Challenge-Train.jsonl', test: 'ARC-Challenge-Dev.jsonl' },
};

async function readArc(file: string) {
  const records = await readJsonl(file, ChoiceQuestionSchema);
  return records.map((r) =>
    choiceExample(
      `Question: ${r.value.question.stem}\nAnswer:`,
      r.value.question.choices.map((c) => ` ${c.text}`),
      answerIndex(r, file),
      r.value.id.split('_')[0] ?? r.value.id,
    ),
  );
}

export async function loadArc(variant: ArcVariant, dir: string): Promise<MultipleChoiceTask> {
  const files = FILES[variant];
  const trainFile = join(dir, files.train);
  const testFile = join(dir, files.test);
  const [train, test] = await Promise.all([readArc(trainFile), readArc(testFile)]);
  return {
    kind: 'multiple-choice',
    name: files.name,
    train,
    test: test.map(({ prompt, choices, label, domain }) => ({ prompt, choices, label, domain })),
    source: { trainFile, testFile },
  };
}
