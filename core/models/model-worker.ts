/**
 * Worker-thread entry: holds real TransformerModels by handle and runs their methods on
 * request, one request at a time per model, in arrival order. Typed arrays in answers are
 * transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { loadTokenizer } from '../tokenizers/registry.js';
import { initBackend } from './backend.js';
import { createModel, loadModel } from './factory.js';
import { pretrain } from './pretrain.js';
import type { TransformerModel } from './transformer-model.js';
import { ModelVocab } from './vocab.js';
import {
  REMOTE_METHODS,
  type ModelState,
  type RemoteMethod,
  type TokenizerSource,
  type WorkerProgress,
  type WorkerRequest,
  type WorkerResponse,
} from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('model-worker.ts must run in a worker thread');

const models = new Map<number, TransformerModel>();
/** Per handle, the tail of its request chain. */
const chains = new Map<number, Promise<unknown>>();

async function tokenizerFrom(source: TokenizerSource): Promise<Tokenizer> {
  if ('registry' in source) return loadTokenizer(source.registry);
  const url = /^[a-z]+:/.test(source.module) ? source.module : pathToFileURL(source.module).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const factory = mod[source.factory];
  if (typeof factory !== 'function') throw new Error(`tokenizer module ${source.module} has no function '${source.factory}'`);
  return (await (factory as (...args: unknown[]) => Tokenizer | Promise<Tokenizer>)(...source.args)) as Tokenizer;
}

function model(handle: number): TransformerModel {
  const m = models.get(handle);
  if (!m) throw new Error(`model worker: no model with handle ${handle} (disposed?)`);
  return m;
}

function state(m: TransformerModel): ModelState {
  return { tokenizer: m.tokenizer, adapter: m.getAdapter() };
}

const CHANGES_ADAPTER = new Set<RemoteMethod>(['trainEpochs', 'distillEpochs', 'setAdapter', 'mergeAdapter']);

async function call(m: TransformerModel, method: RemoteMethod, args: unknown[], requestId: number): Promise<unknown> {
  switch (method) {
    case 'trainEpochs':
      return m.trainEpochs(...(args as Parameters<TransformerModel['trainEpochs']>));
    case 'scorePublic':
      return m.scorePublic(...(args as Parameters<TransformerModel['scorePublic']>));
    case 'distillEpochs':
      return m.distillEpochs(...(args as Parameters<TransformerModel['distillEpochs']>));
    case 'scoreChoices':
      return m.scoreChoices(...(args as Parameters<TransformerModel['scoreChoices']>));
    case 'generate':
      return m.generate(...(args as Parameters<TransformerModel['generate']>));
    case 'setAdapter':
      return m.setAdapter(...(args as Parameters<TransformerModel['setAdapter']>));
    case 'save':
      return m.save(...(args as Parameters<TransformerModel['save']>));
    case 'pretrain': {
      const [corpus, options] = args as [readonly string[], Parameters<TransformerModel['trainEpochs']>[1]];
      const progress: WorkerProgress = { id: requestId, progress: { epoch: 0, loss: 0 } };
      return pretrain(m, corpus, { ...options, onEpoch: (epoch, loss) => port?.postMessage({ ...progress, progress: { epoch, loss } }) });
    }
    case 'mergeAdapter':
      return m.mergeAdapter();
  }
}

async function handle(req: WorkerRequest): Promise<{ value: unknown; state?: ModelState }> {
  switch (req.op) {
    case 'init':
      return { value: await initBackend(req.backend) };
    case 'create': {
      const { spec, tokenizer, vocabIds, corpus, seed } = req.options;
      const tok = await tokenizerFrom(tokenizer);
      const vocab = vocabIds ? ModelVocab.fromSaved(tok.name, vocabIds) : undefined;
      const m = createModel({ spec, tokenizer: tok, seed, ...(vocab ? { vocab } : { corpus: corpus ?? [] }) });
      models.set(req.handle, m);
      return { value: { vocabIds: m.vocab.tokenizerIds() }, state: state(m) };
    }
    case 'load': {
      const m = await loadModel(req.dir, await tokenizerFrom(req.tokenizer));
      models.set(req.handle, m);
      return { value: { vocabIds: m.vocab.tokenizerIds() }, state: state(m) };
    }
    case 'call': {
      if (!REMOTE_METHODS.includes(req.method)) throw new Error(`model worker: unknown method '${String(req.method)}'`);
      const m = model(req.handle);
      const value = await call(m, req.method, req.args, req.id);
      return CHANGES_ADAPTER.has(req.method) ? { value, state: state(m) } : { value };
    }
    case 'dispose':
      models.get(req.handle)?.dispose();
      models.delete(req.handle);
      chains.delete(req.handle);
      return { value: undefined };
  }
}

/** ArrayBuffers of every typed array inside `value`, for the transfer list. */
function buffersOf(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (Array.isArray(value)) {
    for (const v of value) buffersOf(v, out);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) buffersOf(v, out);
  }
  return [...out];
}

port.on('message', (req: WorkerRequest) => {
  const key = 'handle' in req ? req.handle : -1;
  const previous = chains.get(key) ?? Promise.resolve();
  const next = previous.then(async () => {
    let response: WorkerResponse;
    try {
      const { value, state: s } = await handle(req);
      response = { id: req.id, ok: true, value, ...(s ? { state: s } : {}) };
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      response = { id: req.id, ok: false, error: { message: error.message, ...(error.stack ? { stack: error.stack } : {}) } };
    }
    port.postMessage(response, buffersOf(response));
  });
  if (req.op !== 'dispose') chains.set(key, next);
});
