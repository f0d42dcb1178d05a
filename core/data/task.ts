/**
 * The common shape of every task the framework trains and evaluates on: a training set of
 * labelled examples (which the split cuts into private shards and a public set) and an
 * evaluation set that is never trained on.
 */
import type { ChoiceItem, TextSample } from '../models/model.js';

export type TaskKind = 'multiple-choice' | 'generation';

/**
 * A training example. `domain` is the key the non-IID splits partition on; what it means is
 * documented by each task (an exam source, a topic, the gold label for label skew, ...).
 */
export interface LabelledExample extends TextSample {
  domain: string;
}

/** A multiple-choice training example; `answer === choices[label]`, so it can be scored too. */
export interface ChoiceExample extends LabelledExample, ChoiceItem {}

/** A multiple-choice evaluation item, tagged with its domain for per-domain accuracy. */
export interface DomainChoiceItem extends ChoiceItem {
  domain: string;
}

/** A generation evaluation item: greedy output is compared with `reference` (Rouge-L). */
export interface GenerationItem {
  prompt: string;
  /** The gold text, without the leading space a training answer carries. */
  reference: string;
  domain: string;
}

/** Where a task's sets came from, so reports can say which file fed which set. */
export interface TaskSource {
  trainFile: string;
  testFile: string;
  /** Present when train and test come from one file: the seeded held-out cut that separates them. */
  heldOut?: { fraction: number; seed: number };
}

interface TaskBase {
  name: string;
  source?: TaskSource;
}

export interface MultipleChoiceTask extends TaskBase {
  kind: 'multiple-choice';
  train: ChoiceExample[];
  test: DomainChoiceItem[];
}

export interface GenerationTask extends TaskBase {
  kind: 'generation';
  train: LabelledExample[];
  test: GenerationItem[];
}

export type Task = MultipleChoiceTask | GenerationTask;

/** Builds a ChoiceExample whose answer is its gold choice. */
export function choiceExample(prompt: string, choices: string[], label: number, domain: string): ChoiceExample {
  const answer = choices[label];
  if (answer === undefined) {
    throw new Error(`label ${label} is out of range for ${choices.length} choices (prompt: ${JSON.stringify(prompt.slice(0, 60))})`);
  }
  return { prompt, answer, choices, label, domain };
}
