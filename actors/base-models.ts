/**
 * Base models: pretrained once on the built-in general corpus, cached on disk by content
 * (spec, tokenizer, corpus, settings, seed, and the source of the code that trains them),
 * reloaded by later runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinPretrainCorpus } from '../core/data/builtin-task.js';
import { createModel, loadModel } from '../core/models/factory.js';
import type { ChoiceItem, LanguageModel, TextSample, TrainOptions, TrainStats } from '../core/models/model.js';
import { TransformerModel } from '../core/models/transformer-model.js';
import type { VocabSource } from '../core/models/vocab.js';
import { pretrain } from '../core/models/pretrain.js';
import type { ModelSpec } from '../core/models/spec.js';
import type { PretrainConfig } from '../core/scenario/schema.js';
import type { Tokenizer } from '../core/tokenizers/tokenizer.js';

export interface BaseModelRequest {
  spec: ModelSpec | string;
  tokenizer: Tokenizer;
  /** The run's texts: the model's compact vocabulary covers them and the pretraining corpus. */
  corpus: readonly (TextSample | ChoiceItem)[];
  pretrain: PretrainConfig | undefined;
  /** Seed of the task world (the corpus states its facts). */
  worldSeed: number;
  seed: number;
  cacheDir: string;
  log?: (line: string) => void;
}

/** A user's corpus: JSONL with a `text` field per line, or plain text split on blank lines. */
export function readCorpusFile(file: string): string[] {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`pretrain.corpus: cannot read ${file}: ${(error as Error).message}`);
  }
  if (file.endsWith('.jsonl')) {
    return raw
      .split('\n')
      .map((line, i) => [line.trim(), i + 1] as const)
      .filter(([line]) => line.length > 0)
      .map(([line, n]) => {
        let row: unknown;
        try {
          row = JSON.parse(line);
        } catch {
          throw new Error(`${file}:${n}: not valid JSON`);
        }
        const text = (row as { text?: unknown }).text;
        if (typeof text !== 'string') throw new Error(`${file}:${n}: expected a string field "text"`);
        return text;
      });
  }
  const docs = raw
    .split(/\n\s*\n/)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
  if (docs.length === 0) throw new Error(`pretrain.corpus: ${file} holds no text`);
  return docs;
}

/** Where models are made: in this thread, or in a worker pool. */
export interface ModelMaker {
  create(spec: ModelSpec | string, tokenizer: Tokenizer, corpus: readonly VocabSource[], seed: number): Promise<LanguageModel>;
  load(dir: string, tokenizer: Tokenizer): Promise<LanguageModel>;
  pretrain(model: LanguageModel, texts: readonly string[], options: TrainOptions): Promise<TrainStats>;
}

export const inProcessModels: ModelMaker = {
  create: async (spec, tokenizer, corpus, seed) => createModel({ spec, tokenizer, corpus: [...corpus], seed }),
  load: (dir, tokenizer) => loadModel(dir, tokenizer),
  pretrain: (model, texts, options) => {
    if (!(model instanceof TransformerModel)) throw new Error('pretrain: not an in-process transformer model');
    return pretrain(model, texts, options);
  },
};

/** The folders whose code decides what pretraining produces (models, losses, the wasm loops). */
const TRAINING_CODE = ['../core/models/', '../core/learning/', '../core/tensor/', '../core/wasm/'];
let trainingCodeHash: string | undefined;

/** A hash of the training code's source, so that a cache made by other code is not reused. */
export function trainingCodeFingerprint(): string {
  if (trainingCodeHash) return trainingCodeHash;
  const hash = createHash('sha256');
  for (const folder of TRAINING_CODE) {
    const dir = fileURLToPath(new URL(folder, import.meta.url));
    for (const file of readdirSync(dir)
      .filter((f) => /\.[cm]?[jt]s$/.test(f))
      .sort())
      hash.update(file).update(readFileSync(join(dir, file)));
  }
  trainingCodeHash = hash.digest('hex');
  return trainingCodeHash;
}

/** Epoch lines of a long pretraining: one when a few seconds have passed since the last, none for a quick one. */
export function epochProgress(
  what: string,
  epochs: number,
  log: (line: string) => void,
  everyMs = 2000,
  now: () => number = Date.now,
): (epoch: number, loss: number) => void {
  const start = now();
  let last = start;
  return (epoch, loss) => {
    const t = now();
    if (t - last < everyMs || epoch === epochs) return;
    last = t;
    const perEpoch = (t - start) / epoch;
    log(`${what}: epoch ${epoch}/${epochs}, loss ${loss.toFixed(3)}, about ${Math.ceil((perEpoch * (epochs - epoch)) / 1000)} s to go`);
  };
}

export async function baseModel(request: BaseModelRequest, maker: ModelMaker = inProcessModels): Promise<LanguageModel> {
  const { spec, tokenizer, corpus, seed } = request;
  if (!request.pretrain) return maker.create(spec, tokenizer, corpus, seed);
  const settings = request.pretrain;
  const texts =
    settings.corpus === 'builtin' ? builtinPretrainCorpus(request.worldSeed, { factFraction: settings.factFraction }).texts : readCorpusFile(settings.corpus);
  const key = createHash('sha256')
    .update(
      JSON.stringify({ spec, tokenizer: tokenizer.contentHash, settings, seed, worldSeed: request.worldSeed, texts, corpus, code: trainingCodeFingerprint() }),
    )
    .digest('hex')
    .slice(0, 16);
  const name = typeof spec === 'string' ? spec : spec.arch;
  const dir = join(request.cacheDir, `${name}-${tokenizer.name}-${key}`);
  if (existsSync(join(dir, 'config.json'))) {
    request.log?.(`base model ${name} (${tokenizer.name}): cached in ${dir}`);
    return maker.load(dir, tokenizer);
  }
  request.log?.(`base model ${name} (${tokenizer.name}): pretraining ${settings.epochs} epochs on ${texts.length} texts...`);
  const model = await maker.create(spec, tokenizer, [...corpus, ...texts], seed);
  const start = Date.now();
  const onEpoch = request.log ? epochProgress(`base model ${name} (${tokenizer.name})`, settings.epochs, request.log) : undefined;
  const stats = await maker.pretrain(model, texts, {
    epochs: settings.epochs,
    learningRate: settings.learningRate,
    batchSize: settings.batchSize,
    ...(onEpoch ? { onEpoch } : {}),
  });
  request.log?.(
    `base model ${name} (${tokenizer.name}): pretrained, loss ${stats.loss.toFixed(3)}, ${((Date.now() - start) / 1000).toFixed(1)} s; cached in ${dir}`,
  );
  await model.save(dir);
  return model;
}
