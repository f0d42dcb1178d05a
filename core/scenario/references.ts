/**
 * What a run would refuse once it starts, found while the scenario is read: names that must be
 * known (tokenizers, model presets, tasks) and files that must be there (datasets, corpora,
 * straggler traces). Read from the document as written, so that these problems are listed
 * with the schema's in one report.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { datasetProblem } from '../data/tasks/registry.js';
import { parseBigramSpec } from '../models/bigram-base.js';
import { MODEL_PRESETS } from '../models/config.js';
import { traceProblem } from '../population/traces.js';
import { unknownName } from '../suggest.js';
import { isTokenizerPath, tokenizerSourceProblem } from '../tokenizers/registry.js';

export interface ReferenceProblem {
  path: (string | number)[];
  message: string;
}

type Doc = Record<string, unknown>;

const asDoc = (value: unknown): Doc | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Doc) : undefined);

/** Null for a preset or a bigram model; else why `createModel` would refuse the name. */
function modelNameProblem(name: string): string | null {
  if (name in MODEL_PRESETS) return null;
  try {
    if (parseBigramSpec(name)) return null;
  } catch (error) {
    return (error as Error).message;
  }
  return unknownName('model preset', name, [...Object.keys(MODEL_PRESETS), 'bigram', 'bigram-r<rank>']);
}

function fileProblem(file: string): string | null {
  return existsSync(resolve(file)) ? null : `${resolve(file)} does not exist`;
}

function partyProblems(party: Doc, at: (string | number)[], filesHere: boolean): ReferenceProblem[] {
  const out: ReferenceProblem[] = [];
  const { tokenizer, model } = party;
  if (typeof tokenizer === 'string' && tokenizer.length > 0 && (filesHere || !isTokenizerPath(tokenizer))) {
    const why = tokenizerSourceProblem(tokenizer);
    if (why) out.push({ path: [...at, 'tokenizer'], message: why });
  }
  if (typeof model === 'string' && model.length > 0) {
    const why = modelNameProblem(model);
    if (why) out.push({ path: [...at, 'model'], message: why });
  }
  const corpus = asDoc(party.pretrain)?.corpus;
  if (filesHere && typeof corpus === 'string' && corpus !== 'builtin') {
    const why = fileProblem(corpus);
    if (why) out.push({ path: [...at, 'pretrain', 'corpus'], message: `${why} (a text or JSONL corpus, or "builtin")` });
  }
  return out;
}

/** Unknown names; with `filesHere`, also files not on this machine. */
export function referenceProblems(document: unknown, filesHere = true): ReferenceProblem[] {
  const doc = asDoc(document);
  if (!doc) return [];
  const out: ReferenceProblem[] = [];
  const server = asDoc(doc.server);
  if (server) out.push(...partyProblems(server, ['server'], filesHere));
  if (Array.isArray(doc.clients))
    doc.clients.forEach((c, i) => {
      const client = asDoc(c);
      if (client) out.push(...partyProblems(client, ['clients', i], filesHere));
    });
  out.push(...populationProblems(asDoc(doc.population), filesHere));
  const task = asDoc(doc.task) ?? {};
  const name = task.name ?? 'builtin';
  const path = task.path;
  if (typeof name === 'string' && (path === undefined || typeof path === 'string')) {
    const why = datasetProblem(name, path, filesHere);
    if (why) out.push({ path: ['task', why.field], message: why.message });
  }
  const traceFile = asDoc(asDoc(doc.faults)?.stragglers)?.traceFile;
  if (filesHere && typeof traceFile === 'string') {
    const why = fileProblem(traceFile);
    if (why) out.push({ path: ['faults', 'stragglers', 'traceFile'], message: why });
  }
  return out;
}

/** A population's templates, and its trace files (there, and readable as traces). */
function populationProblems(population: Doc | undefined, filesHere: boolean): ReferenceProblem[] {
  if (!population) return [];
  const out: ReferenceProblem[] = [];
  const templates = population.clients;
  if (Array.isArray(templates))
    templates.forEach((c, i) => {
      const template = asDoc(c);
      if (template) out.push(...partyProblems(template, ['population', 'clients', i], filesHere));
    });
  if (!filesHere) return out;
  for (const [field, kind] of [
    ['availability', 'availability'],
    ['capacity', 'capacity'],
  ] as const) {
    const file = asDoc(population[field])?.trace;
    if (typeof file !== 'string' || file === '') continue;
    const why = fileProblem(file) ?? traceProblem(file, kind);
    if (why) out.push({ path: ['population', field, 'trace'], message: why });
  }
  return out;
}
