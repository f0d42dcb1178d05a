/**
 * Messages between a ModelWorkerPool and its worker threads. A worker holds real models by
 * handle; the main thread holds RemoteModels that name them.
 */
import type { BackendName } from './backend.js';
import type { ModelSpec } from './spec.js';
import type { VocabSource } from './vocab.js';

/**
 * How a worker obtains a tokenizer (tokenizer objects cannot cross threads): by registry name
 * or folder, or by calling `factory(...args)` exported from an ES module (URL or path).
 */
export type TokenizerSource = { registry: string } | { module: string; factory: string; args: unknown[] };

export interface RemoteCreateOptions {
  /** A spec, or a preset name. */
  spec: ModelSpec | string;
  tokenizer: TokenizerSource;
  /** The compact vocabulary as ModelVocab.tokenizerIds(); or give `corpus`. */
  vocabIds?: number[];
  corpus?: VocabSource[];
  seed: number;
}

/** Model methods a worker runs on request. */
export const REMOTE_METHODS = [
  'trainEpochs',
  'scorePublic',
  'distillEpochs',
  'scoreChoices',
  'generate',
  'setAdapter',
  'save',
  'pretrain',
  'mergeAdapter',
] as const;
export type RemoteMethod = (typeof REMOTE_METHODS)[number];

export type WorkerRequest =
  | { id: number; op: 'init'; backend?: BackendName }
  | { id: number; op: 'create'; handle: number; options: RemoteCreateOptions }
  | { id: number; op: 'load'; handle: number; dir: string; tokenizer: TokenizerSource }
  | { id: number; op: 'call'; handle: number; method: RemoteMethod; args: unknown[] }
  | { id: number; op: 'dispose'; handle: number };

/** What create/load answer, and what every call that may change the adapter returns with its value. */
export interface ModelState {
  tokenizer: string;
  adapter: Record<string, { shape: number[]; values: Float32Array }>;
}

/** A call's progress before its answer: an epoch of pretraining done. */
export interface WorkerProgress {
  id: number;
  progress: { epoch: number; loss: number };
}

export type WorkerResponse =
  | { id: number; ok: true; value: unknown; state?: ModelState }
  | { id: number; ok: false; error: { message: string; stack?: string } };
