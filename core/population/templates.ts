/**
 * How a population's client templates are named wherever a run is summarised: `run`'s table,
 * the report's accuracy chart, `sweep` and the live view.
 */
import type { Population } from '../scenario/population-schema.js';

/** A template by its place in `population.clients`: `template 0`. */
export function templateLabel(template: number): string {
  return `template ${template}`;
}

/** What a template is, in a few words: its model and tokenizer (`bigram, gpt2`; `no model, llama2` for the protocol alone). */
export function templateKind(template: Pick<Population['clients'][number], 'model' | 'tokenizer'>): string {
  const m = template.model;
  const model = m === null ? 'no model' : typeof m === 'string' ? m : `${m.arch} ${m.layers}x${m.dModel}`;
  return `${model}, ${template.tokenizer}`;
}
