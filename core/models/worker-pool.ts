/**
 * Model work off the main thread: a pool of worker threads (one per core by default), each
 * holding real TransformerModels, and RemoteModel, a LanguageModel that forwards every method
 * to the worker holding its model. The wasm backend is single-threaded, so this is how a
 * simulation uses more than one core, and how the main event loop (actors, timers, transport)
 * keeps running while models train.
 *
 * Arguments are copied to the worker (structured clone: the caller keeps its arrays); typed
 * arrays in answers are transferred. Requests to one model run in the order they were made.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { projectWorker } from '../ts-worker.js';
import type { PublicLogits } from '../protocol/messages.js';
import type { AlignedTeacher } from '../alignment/aligned-teacher.js';
import type { BackendName } from './backend.js';
import type { AdapterWeights, ChoiceItem, ChoiceScores, DistillOptions, LanguageModel, TextSample, TrainOptions, TrainStats } from './model.js';
import type { ModelState, RemoteCreateOptions, RemoteMethod, TokenizerSource, WorkerProgress, WorkerRequest, WorkerResponse } from './worker-protocol.js';

export type { RemoteCreateOptions, TokenizerSource } from './worker-protocol.js';

export interface ModelWorkerPoolOptions {
  /** Worker threads; default: the machine's available parallelism. */
  size?: number;
  /** Backend every worker initialises (default: initBackend's own choice). */
  backend?: BackendName;
}

interface Pending {
  resolve: (r: { value: unknown; state?: ModelState }) => void;
  reject: (e: Error) => void;
  onProgress?: (epoch: number, loss: number) => void;
}

class WorkerSlot {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  models = 0;
  failure: Error | undefined;

  constructor(index: number) {
    const entry = new URL(import.meta.url.endsWith('.ts') ? './model-worker.ts' : './model-worker.js', import.meta.url);
    this.worker = projectWorker(entry, { name: `fedmkt-model-${index}` });
    this.worker.on('message', (res: WorkerResponse | WorkerProgress) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      if ('progress' in res) {
        p.onProgress?.(res.progress.epoch, res.progress.loss);
        return;
      }
      this.pending.delete(res.id);
      if (res.ok) p.resolve({ value: res.value, ...(res.state ? { state: res.state } : {}) });
      else {
        const error = new Error(res.error.message);
        if (res.error.stack) error.stack = `${res.error.message}\n    (in model worker ${index})\n${res.error.stack.split('\n').slice(1).join('\n')}`;
        p.reject(error);
      }
    });
    const fail = (error: Error): void => {
      this.failure = error;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`model worker ${index} crashed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`model worker ${index} exited with code ${code}`)));
  }
}

export class ModelWorkerPool {
  private readonly slots: WorkerSlot[];
  private readonly ready: Promise<unknown>;
  private nextId = 1;
  private nextHandle = 1;
  private closed = false;

  constructor(options: ModelWorkerPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new Error(`ModelWorkerPool: size must be a positive integer, got ${size}`);
    this.slots = Array.from({ length: size }, (_, i) => new WorkerSlot(i));
    this.ready = Promise.all(this.slots.map((slot) => this.send(slot, { op: 'init', ...(options.backend ? { backend: options.backend } : {}) })));
    // surfaces through createModel/loadModel; not an unhandled rejection if neither is called
    this.ready.catch(() => undefined);
  }

  get size(): number {
    return this.slots.length;
  }

  /** A model created in the least-loaded worker. */
  async createModel(options: RemoteCreateOptions): Promise<RemoteModel> {
    return this.place((slot, handle) => this.send(slot, { op: 'create', handle, options }));
  }

  /** A model restored from a checkpoint directory, in the least-loaded worker. */
  async loadModel(dir: string, tokenizer: TokenizerSource): Promise<RemoteModel> {
    return this.place((slot, handle) => this.send(slot, { op: 'load', handle, dir, tokenizer }));
  }

  /** Dispose every model and stop the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** @internal */
  call(
    slot: WorkerSlot,
    handle: number,
    method: RemoteMethod,
    args: unknown[],
    onProgress?: Pending['onProgress'],
  ): Promise<{ value: unknown; state?: ModelState }> {
    return this.send(slot, { op: 'call', handle, method, args }, onProgress);
  }

  /** @internal */
  release(slot: WorkerSlot, handle: number): void {
    slot.models--;
    if (!this.closed && !slot.failure) void this.send(slot, { op: 'dispose', handle }).catch(() => undefined);
  }

  private async place(start: (slot: WorkerSlot, handle: number) => Promise<{ value: unknown; state?: ModelState }>): Promise<RemoteModel> {
    await this.ready;
    const slot = this.slots.reduce((best, s) => (s.models < best.models ? s : best));
    const handle = this.nextHandle++;
    slot.models++;
    try {
      const { state } = await start(slot, handle);
      if (!state) throw new Error('model worker: create/load answered without the model state');
      return new RemoteModel(this, slot, handle, state);
    } catch (e) {
      slot.models--;
      throw e;
    }
  }

  private send(
    slot: WorkerSlot,
    request: DistributiveOmit<WorkerRequest, 'id'>,
    onProgress?: Pending['onProgress'],
  ): Promise<{ value: unknown; state?: ModelState }> {
    if (this.closed) return Promise.reject(new Error('ModelWorkerPool: the pool is closed'));
    if (slot.failure) return Promise.reject(slot.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, ...(onProgress ? { onProgress } : {}) });
      slot.worker.postMessage({ ...request, id });
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * A LanguageModel whose model lives in a pool worker. getAdapter answers from a mirror the
 * worker refreshes after every call that changes the adapter; setAdapter is checked here and
 * applied in the worker before any later call.
 */
export class RemoteModel implements LanguageModel {
  readonly tokenizer: string;
  private adapter: AdapterWeights;
  /** Request sequence numbers: the mirror only ever moves to the state of a later request. */
  private lastRequest = 0;
  private mirrorRequest = 0;
  private disposed = false;

  /** @internal use ModelWorkerPool.createModel / loadModel */
  constructor(
    private readonly pool: ModelWorkerPool,
    private readonly slot: WorkerSlot,
    private readonly handle: number,
    state: ModelState,
  ) {
    this.tokenizer = state.tokenizer;
    this.adapter = state.adapter;
  }

  trainEpochs(samples: readonly TextSample[], options: TrainOptions): Promise<TrainStats> {
    return this.invoke('trainEpochs', [samples, options]) as Promise<TrainStats>;
  }

  scorePublic(samples: readonly TextSample[], topK: number): Promise<PublicLogits> {
    return this.invoke('scorePublic', [samples, topK]) as Promise<PublicLogits>;
  }

  distillEpochs(samples: readonly TextSample[], teacher: AlignedTeacher, options: DistillOptions): Promise<TrainStats> {
    return this.invoke('distillEpochs', [samples, teacher, options]) as Promise<TrainStats>;
  }

  scoreChoices(items: readonly ChoiceItem[]): Promise<ChoiceScores> {
    return this.invoke('scoreChoices', [items]) as Promise<ChoiceScores>;
  }

  generate(prompts: readonly string[], options: { maxNewTokens: number }): Promise<string[]> {
    return this.invoke('generate', [prompts, options]) as Promise<string[]>;
  }

  /** Full-weight pretraining of the remote model's base (see pretrain.ts). */
  pretrain(corpus: readonly string[], options: TrainOptions): Promise<TrainStats> {
    // A function cannot cross to the worker: its epochs come back as progress messages.
    const { onEpoch, ...plain } = options;
    return this.invoke('pretrain', [corpus, plain], onEpoch) as Promise<TrainStats>;
  }

  mergeAdapter(): Promise<void> {
    return this.invoke('mergeAdapter', []) as Promise<void>;
  }

  getAdapter(): AdapterWeights {
    this.assertLive();
    return Object.fromEntries(Object.entries(this.adapter).map(([k, w]) => [k, { shape: [...w.shape], values: w.values.slice() }]));
  }

  setAdapter(weights: AdapterWeights): void {
    this.assertLive();
    for (const [name, w] of Object.entries(this.adapter)) {
      const given = weights[name];
      if (!given) throw new Error(`setAdapter: adapter weight '${name}' is missing`);
      if (!sameShape(given.shape, w.shape)) throw new Error(`setAdapter: '${name}' has shape [${given.shape}], expected [${w.shape}]`);
      if (given.values.length !== w.values.length) throw new Error(`setAdapter: '${name}' has ${given.values.length} values for shape [${w.shape}]`);
    }
    const unexpected = Object.keys(weights).filter((n) => !(n in this.adapter));
    if (unexpected.length > 0) throw new Error(`setAdapter: unexpected adapter weights ${unexpected.join(', ')}`);
    const request = this.invoke('setAdapter', [weights]);
    this.adapter = Object.fromEntries(Object.entries(weights).map(([k, w]) => [k, { shape: [...w.shape], values: w.values.slice() }]));
    this.mirrorRequest = this.lastRequest;
    // ordered before any later request to this model; checked above, so it cannot fail on shape
    void request.catch(() => undefined);
  }

  save(dir: string): Promise<void> {
    return this.invoke('save', [dir]) as Promise<void>;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool.release(this.slot, this.handle);
  }

  private invoke(method: RemoteMethod, args: unknown[], onProgress?: (epoch: number, loss: number) => void): Promise<unknown> {
    if (this.disposed) return Promise.reject(new Error(`RemoteModel ${this.handle}: used after dispose()`));
    const request = ++this.lastRequest;
    return this.pool.call(this.slot, this.handle, method, args, onProgress).then(({ value, state }) => {
      if (state && request >= this.mirrorRequest) {
        this.adapter = state.adapter;
        this.mirrorRequest = request;
      }
      return value;
    });
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`RemoteModel ${this.handle}: used after dispose()`);
  }
}
