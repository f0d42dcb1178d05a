/**
 * DialogSum (generation). Only the dev file is shared, so a seeded held-out share of it
 * evaluates and the rest trains (disjoint; see holdout.ts).
 * lm-evaluation-harness has no DialogSum task and the paper gives no prompt, so this one is
 * ours: `Summarize the following dialogue.\n{dialogue}\nSummary:`, target ` {summary}`;
 * evaluation is Rouge-L F of the greedy generation against `summary` (core/eval/rouge.ts).
 * Domain: the record's `topic`.
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { GenerationTask, LabelledExample } from '../task.js';
import { holdOut } from './holdout.js';
import { readJsonl } from './jsonl.js';

const DialogSumSchema = z.object({ dialogue: z.string(), summary: z.string(), topic: z.string() });

function dialogSumPrompt(dialogue: string): string {
  return `Summarize the following dialogue.\n${dialogue}\nSummary:`;
}

export async function loadDialogSum(dir: string, seed: number, evalFraction: number): Promise<GenerationTask> {
  const file = join(dir, 'dialogsum.dev.jsonl');
  const records = await readJsonl(file, DialogSumSchema);
  const examples: LabelledExample[] = records.map(({ value }) => ({
    prompt: dialogSumPrompt(value.dialogue),
    answer: ` ${value.summary}`,
    domain: value.topic,
  }));
  const { train, test } = holdOut(examples, evalFraction, seed, 'dialogsum');
  return {
    kind: 'generation',
    name: 'dialogsum',
    train,
    test: test.map(({ prompt, answer, domain }) => ({ prompt, reference: answer.slice(1), domain })),
    source: { trainFile: file, testFile: file, heldOut: { fraction: evalFraction, seed } },
  };
}
