/**
 * A transformer's weights (base and LoRA adapters) and its forward pass, independent of any
 * tokenizer: inputs and outputs are model-vocabulary ids and logits.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../random.js';
import type { Architecture, ForwardContext, ForwardShape, ParamInit, ProjectionDef } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { gpt2 } from './gpt2.js';
import {
  alibiMask,
  alibiSlopes,
  attentionRunsInJs,
  causalMask,
  causalSelfAttention,
  causalSelfAttentionJs,
  dense,
  embedding,
  qkvDense,
  residual,
  type QkvLora,
  layerNorm,
  rmsNorm,
  rotaryTables,
  rotateHalfMatrix,
  type LoraBranch,
  type RotaryInput,
} from './layers.js';
import { llama } from './llama.js';
import { bloom } from './bloom.js';
import { opt } from './opt.js';
import { qwen2 } from './qwen2.js';
import { adapterNames, initLoraValues, loraScale, mergeLora, type LoraAdapter } from './lora.js';

/** Named float32 tensors, flattened row-major (the layout of safetensors files and AdapterWeights). */
export type WeightRecord = Record<string, { shape: number[]; values: Float32Array }>;

/**
 * Base weights handed to a network one parameter at a time, so that a large checkpoint is
 * never held in memory twice.
 */
export interface BaseWeights {
  /** The row-major values of parameter `name`, of `shape`; throws naming what is missing or wrong. */
  take(name: string, shape: readonly number[]): Float32Array;
  /** Called once every parameter is taken: throws if the source holds weights no parameter took. */
  done(): void;
}

/** A WeightRecord as BaseWeights, checked name by name and shape by shape. */
function recordWeights(config: TransformerConfig, base: WeightRecord): BaseWeights {
  const taken = new Set<string>();
  return {
    take: (name, shape) => {
      const w = base[name];
      if (!w) throw new Error(`${config.arch} network: base weight '${name}' is missing`);
      if (!sameShape(w.shape, shape)) throw new Error(`${config.arch} network: base weight '${name}' has shape [${w.shape}], expected [${shape}]`);
      taken.add(name);
      return w.values;
    },
    done: () => {
      const unexpected = Object.keys(base).filter((n) => !taken.has(n));
      if (unexpected.length > 0) throw new Error(`${config.arch} network: unexpected base weights ${unexpected.join(', ')}`);
    },
  };
}

/**
 * Values by sequence length, the few most recently used kept and the others released: a
 * generation asks for every length in turn, and kept tables of every length would grow with its
 * square. A forward pass and its backward use one length, which stays the most recent.
 */
class LengthCache<T> {
  private readonly entries = new Map<number, T>();

  constructor(
    private readonly release: (value: T) => void,
    private readonly size = 8,
  ) {}

  get(length: number, make: () => T): T {
    const kept = this.entries.get(length);
    this.entries.delete(length);
    const value = kept ?? make();
    this.entries.set(length, value);
    if (this.entries.size > this.size) {
      const [oldest, old] = this.entries.entries().next().value as [number, T];
      this.entries.delete(oldest);
      this.release(old);
    }
    return value;
  }

  clear(): void {
    for (const value of this.entries.values()) this.release(value);
    this.entries.clear();
  }
}

export const ARCHITECTURES: Record<TransformerConfig['arch'], Architecture> = { gpt2, llama, bloom, qwen2, opt };

/** Which weights a forward pass differentiates, and whether LoRA dropout is on. */
export interface NetworkPass {
  trainBase: boolean;
  trainAdapters: boolean;
  /** LoRA dropout active (training only). */
  dropout: boolean;
  /** Seed of this pass's dropout masks; each masked projection derives its own. */
  seed: number;
}

export const INFERENCE: NetworkPass = { trainBase: false, trainAdapters: false, dropout: false, seed: 0 };

function initValues(p: ParamInit, rng: Random): Float32Array {
  const values = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
  if (p.init === 'ones') values.fill(1);
  else if (p.init === 'normal') for (let i = 0; i < values.length; i++) values[i] = rng.normal() * p.std;
  return values;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export class TransformerNetwork {
  readonly config: TransformerConfig;
  readonly arch: Architecture;
  private readonly base = new Map<string, tf.Variable>();
  /** Keyed by projection name. */
  private readonly adapters = new Map<string, LoraAdapter>();
  private readonly adapted: ProjectionDef[];
  /** Causal masks and rotary tables by sequence length. */
  private readonly masks = new LengthCache<tf.Tensor2D>((m) => m.dispose());
  private readonly alibiMasks = new LengthCache<tf.Tensor3D>((m) => m.dispose());
  private readonly rotaries = new LengthCache<RotaryInput>((r) => tf.dispose([r.cos, r.sin, r.cosQ, r.sinQ, r.r, r.rT]));
  /** Tensors derived from base weights while these are frozen (transposes, leading rows),
   * dropped whenever the base changes. */
  private readonly frozen = new Map<string, tf.Tensor>();
  /** Values of frozen embedding tables, for row lookups in JS. */
  private readonly frozenTables = new Map<string, Float32Array>();
  private disposed = false;

  private constructor(config: TransformerConfig, base: BaseWeights, adapter: WeightRecord) {
    this.config = config;
    this.arch = ARCHITECTURES[config.arch];
    // one parameter at a time: its values are uploaded and dropped before the next is read
    try {
      for (const [name, init] of Object.entries(this.arch.params(config))) {
        const initial = tf.tensor(base.take(name, init.shape), init.shape);
        this.base.set(name, tf.variable(initial, true));
        initial.dispose();
      }
      base.done();
    } catch (e) {
      for (const v of this.base.values()) v.dispose();
      throw e;
    }
    const targets = new Set(config.lora.targets);
    this.adapted = this.arch.projections(config).filter((p) => targets.has(p.target));
    this.writeAdapters(adapter, 'network');
  }

  /** A freshly initialised network; all randomness flows from `seed` through named streams. */
  static create(config: TransformerConfig, seed: number): TransformerNetwork {
    const params = ARCHITECTURES[config.arch].params(config);
    const fresh: BaseWeights = { take: (name) => initValues(params[name] as ParamInit, Random.stream(seed, `init:${name}`)), done: () => undefined };
    return new TransformerNetwork(config, fresh, TransformerNetwork.freshAdapter(config, seed));
  }

  static fromWeights(config: TransformerConfig, base: WeightRecord, adapter: WeightRecord): TransformerNetwork {
    return new TransformerNetwork(config, recordWeights(config, base), adapter);
  }

  /** A network whose base weights are handed over one by one (streamed from a checkpoint). */
  static fromBase(config: TransformerConfig, base: BaseWeights, adapter: WeightRecord): TransformerNetwork {
    return new TransformerNetwork(config, base, adapter);
  }

  /** Adapter values with A random (from `seed`) and B = 0, for every targeted projection. */
  static freshAdapter(config: TransformerConfig, seed: number): WeightRecord {
    const targets = new Set(config.lora.targets);
    const out: WeightRecord = {};
    for (const p of ARCHITECTURES[config.arch].projections(config)) {
      if (!targets.has(p.target)) continue;
      const { a, b } = initLoraValues(p.inDim, p.outDim, config.lora.rank, Random.stream(seed, `lora:${p.name}`));
      const names = adapterNames(p.name);
      out[names.a] = { shape: [p.inDim, config.lora.rank], values: a };
      out[names.b] = { shape: [config.lora.rank, p.outDim], values: b };
    }
    return out;
  }

  /** Logits [batch * seqLen, vocab] for model ids laid out row-major [batch, seqLen]. */
  logits(ids: Int32Array, shape: ForwardShape, pass: NetworkPass): tf.Tensor2D {
    this.assertLive();
    if (ids.length !== shape.batch * shape.seqLen) {
      throw new Error(`network.logits: ${ids.length} ids for a [${shape.batch}, ${shape.seqLen}] batch`);
    }
    if (shape.seqLen > this.config.maxSeqLen) {
      throw new Error(`network.logits: sequence length ${shape.seqLen} exceeds maxSeqLen ${this.config.maxSeqLen}`);
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id < 0 || id >= this.config.vocabSize) {
        throw new Error(`network.logits: id ${id} at position ${i} is outside the model vocabulary (size ${this.config.vocabSize})`);
      }
    }
    return tf.tidy(() => this.arch.forward(this.context(pass), tf.tensor1d(ids, 'int32'), shape));
  }

  baseVariables(): tf.Variable[] {
    return [...this.base.values()];
  }

  adapterVariables(): tf.Variable[] {
    return [...this.adapters.values()].flatMap((a) => [a.a, a.b]);
  }

  /** Base parameters that get weight decay in full-weight training (matrices, not gains/biases). */
  isDecayed(v: tf.Variable): boolean {
    return v.rank >= 2;
  }

  exportBase(): WeightRecord {
    return this.export(this.base);
  }

  /** Adapter variables by their saved names (`<projection>.lora_a`, `.lora_b`). */
  namedAdapterVariables(): Map<string, tf.Variable> {
    const named = new Map<string, tf.Variable>();
    for (const [proj, a] of this.adapters) {
      const names = adapterNames(proj);
      named.set(names.a, a.a);
      named.set(names.b, a.b);
    }
    return named;
  }

  exportAdapter(): WeightRecord {
    return this.export(this.namedAdapterVariables());
  }

  /** Replace adapter values; names and shapes must match this network's adapters exactly. */
  setAdapter(weights: WeightRecord): void {
    this.assertLive();
    this.writeAdapters(weights, 'setAdapter');
  }

  /** Fold every adapter into its base weight (W += (alpha/r) A B), then restart adapters fresh. */
  mergeAdapters(seed: number): void {
    this.assertLive();
    const scale = loraScale(this.config.lora);
    for (const [proj, adapter] of this.adapters) {
      const w = this.base.get(`${proj}.w`) as tf.Variable<tf.Rank.R2>;
      const merged = mergeLora(w, adapter, scale);
      w.assign(merged);
      merged.dispose();
    }
    this.dropFrozen();
    this.writeAdapters(TransformerNetwork.freshAdapter(this.config, seed), 'mergeAdapters');
  }

  parameterCount(): { base: number; adapter: number } {
    const count = (vs: tf.Variable[]): number => vs.reduce((n, v) => n + v.size, 0);
    return { base: count(this.baseVariables()), adapter: count(this.adapterVariables()) };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.base.values()) v.dispose();
    for (const v of this.adapterVariables()) v.dispose();
    this.masks.clear();
    this.alibiMasks.clear();
    this.rotaries.clear();
    this.dropFrozen();
  }

  private writeAdapters(weights: WeightRecord, where: string): void {
    const expectedNames = new Set<string>();
    for (const p of this.adapted) {
      const names = adapterNames(p.name);
      expectedNames.add(names.a).add(names.b);
      const a = weights[names.a];
      const b = weights[names.b];
      const shapeA = [p.inDim, this.config.lora.rank];
      const shapeB = [this.config.lora.rank, p.outDim];
      if (!a || !b) throw new Error(`${where}: adapter weight '${a ? names.b : names.a}' is missing`);
      if (!sameShape(a.shape, shapeA)) throw new Error(`${where}: '${names.a}' has shape [${a.shape}], expected [${shapeA}]`);
      if (!sameShape(b.shape, shapeB)) throw new Error(`${where}: '${names.b}' has shape [${b.shape}], expected [${shapeB}]`);
      for (const [name, w] of [
        [names.a, a],
        [names.b, b],
      ] as const) {
        const size = w.shape.reduce((x, y) => x * y, 1);
        if (w.values.length !== size) throw new Error(`${where}: '${name}' has ${w.values.length} values for shape [${w.shape}]`);
      }
      const existing = this.adapters.get(p.name);
      if (existing) {
        tf.tidy(() => {
          existing.a.assign(tf.tensor2d(a.values, shapeA as [number, number]));
          existing.b.assign(tf.tensor2d(b.values, shapeB as [number, number]));
        });
      } else {
        this.adapters.set(
          p.name,
          tf.tidy(() => ({
            a: tf.variable(tf.tensor2d(a.values, shapeA as [number, number]), true),
            b: tf.variable(tf.tensor2d(b.values, shapeB as [number, number]), true),
          })),
        );
      }
    }
    const unexpected = Object.keys(weights).filter((n) => !expectedNames.has(n));
    if (unexpected.length > 0) {
      throw new Error(`${where}: unexpected adapter weights ${unexpected.join(', ')} (targets: ${this.config.lora.targets.join(', ')})`);
    }
  }

  private export(named: Map<string, tf.Variable>): WeightRecord {
    const out: WeightRecord = {};
    for (const [name, v] of named) out[name] = { shape: [...v.shape], values: v.dataSync().slice() as Float32Array };
    return out;
  }

  private param(name: string): tf.Variable {
    const v = this.base.get(name);
    if (!v) throw new Error(`${this.config.arch} network: no base parameter '${name}'`);
    return v;
  }

  private context(pass: NetworkPass): ForwardContext {
    const config = this.config;
    const scale = loraScale(config.lora);
    const rate = pass.dropout ? config.lora.dropout : 0;
    // Base weights that train change every step: nothing derived from them is kept.
    const frozen = !pass.trainBase;
    if (!frozen) this.dropFrozen();
    let dropoutCalls = 0;
    const transposed = (name: string): (() => tf.Tensor2D) | undefined =>
      frozen ? () => this.derived(`${name}^T`, () => tf.transpose(this.param(name))) as tf.Tensor2D : undefined;
    const project = (x: tf.Tensor2D, name: string): tf.Tensor2D => {
      const adapter = this.adapters.get(name);
      let lora: LoraBranch | undefined;
      if (adapter) {
        const seed = (pass.seed + Math.imul(++dropoutCalls, 0x9e3779b1)) >>> 0;
        lora = { a: adapter.a, b: adapter.b, scale, dropout: rate > 0 ? { rate, seed } : undefined, train: pass.trainAdapters };
      }
      const w = this.param(`${name}.w`) as tf.Tensor2D;
      const bias = this.base.get(`${name}.b`) as tf.Tensor1D | undefined;
      return dense(x, { w, bias, wT: transposed(`${name}.w`), train: pass.trainBase, lora });
    };
    return {
      config,
      param: (name) => this.param(name),
      project,
      layerNorm: (x, name) => layerNorm(x, this.param(`${name}.g`) as tf.Tensor1D, this.param(`${name}.b`) as tf.Tensor1D, config.normEps, pass.trainBase),
      rmsNorm: (x, name) => rmsNorm(x, this.param(`${name}.g`) as tf.Tensor1D, config.normEps, pass.trainBase),
      selfAttention: (x, prefix, { batch, seqLen, lengths }, options) => {
        const shape = { batch, seqLen, heads: config.heads, kvHeads: config.kvHeads };
        const rotary = options?.rotary ? this.rotary(seqLen) : undefined;
        const alibi = options?.alibi ? alibiSlopes(config.heads) : undefined;
        const mask = () => (alibi ? this.alibiMask(seqLen, alibi) : this.causalMask(seqLen));
        const names = ['q', 'k', 'v'].map((n) => `${prefix}.${n}`);
        const adapters = names.map((n) => this.adapters.get(n));
        const js = attentionRunsInJs();
        // frozen base and all of q, k, v adapted (or none): one block for the three projections
        if (frozen && (adapters.every(Boolean) || !adapters.some(Boolean))) {
          let lora: QkvLora | undefined;
          if (adapters.every(Boolean)) {
            // the seeds the three projections would draw one by one
            const seeds = names.map(() => (pass.seed + Math.imul(++dropoutCalls, 0x9e3779b1)) >>> 0);
            lora = {
              a: adapters.map((ad) => (ad as LoraAdapter).a),
              b: adapters.map((ad) => (ad as LoraAdapter).b),
              scale,
              dropout: rate > 0 ? { rate, seeds } : undefined,
              train: pass.trainAdapters,
            };
          }
          const w = this.derived(`${prefix}.qkv.w`, () =>
            tf.concat(
              names.map((n) => this.param(`${n}.w`)),
              1,
            ),
          ) as tf.Tensor2D;
          const hasBias = this.base.has(`${names[0]}.b`);
          const bias = hasBias
            ? (this.derived(`${prefix}.qkv.b`, () =>
                tf.concat(
                  names.map((n) => this.param(`${n}.b`)),
                  0,
                ),
              ) as tf.Tensor1D)
            : undefined;
          const qkv = qkvDense(x, { w, wT: () => this.derived(`${prefix}.qkv.w^T`, () => tf.transpose(w)) as tf.Tensor2D, bias, lora });
          if (js)
            return causalSelfAttentionJs(qkv, undefined, undefined, { ...shape, lengths }, rotary && { cos: rotary.cosValues, sin: rotary.sinValues }, alibi);
          const [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
          return causalSelfAttention(q, k, v, shape, mask(), rotary);
        }
        const [q, k, v] = names.map((n) => project(x, n)) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        if (js) return causalSelfAttentionJs(q, k, v, { ...shape, lengths }, rotary && { cos: rotary.cosValues, sin: rotary.sinValues }, alibi);
        return causalSelfAttention(q, k, v, shape, mask(), rotary);
      },
      embed: (name, ids, positions) => {
        if (frozen) return this.lookupRows(name, ids, positions);
        const rows = embedding(this.param(name) as tf.Tensor2D, ids, true);
        if (!positions) return rows;
        const d = rows.shape[1];
        const table = tf.slice(this.param(positions.table) as tf.Tensor2D, [0, 0], [positions.seqLen, d]);
        return tf.add(rows.reshape([-1, positions.seqLen, d]), table).reshape([-1, d]) as tf.Tensor2D;
      },
      residual: (h, y) => residual(h, y),
      unembed: (x, name) => {
        const table = this.param(name) as tf.Tensor2D;
        if (!frozen) return dense(x, { w: tf.transpose(table), train: true });
        return dense(x, { w: this.derived(`${name}^T`, () => tf.transpose(table)) as tf.Tensor2D, wT: () => table, train: false });
      },
      matmul: (x, name) => dense(x, { w: this.param(name) as tf.Tensor2D, wT: transposed(name), train: pass.trainBase }),
    };
  }

  /** A tensor derived from frozen base weights, computed once and kept until the base changes. */
  private derived(key: string, make: () => tf.Tensor): tf.Tensor {
    let t = this.frozen.get(key);
    if (!t) {
      t = tf.keep(tf.tidy(make));
      this.frozen.set(key, t);
    }
    return t;
  }

  private dropFrozen(): void {
    for (const t of this.frozen.values()) t.dispose();
    this.frozen.clear();
    this.frozenTables.clear();
  }

  /** Rows of frozen table `name` at `ids` (plus learned positions), copied in JS (wasm's Gather
   * kernel checks and indexes every element in JS and costs more than the rest of an embedding step). */
  private lookupRows(name: string, ids: tf.Tensor1D, positions?: { table: string; seqLen: number }): tf.Tensor2D {
    const values = this.tableValues(name);
    const d = this.param(name).shape[1] as number;
    const idValues = ids.dataSync();
    const out = new Float32Array(idValues.length * d);
    for (let i = 0; i < idValues.length; i++) {
      const row = idValues[i] as number;
      out.set(values.subarray(row * d, (row + 1) * d), i * d);
    }
    if (positions) {
      const pos = this.tableValues(positions.table);
      for (let i = 0; i < idValues.length; i++) {
        const p = (i % positions.seqLen) * d;
        for (let c = 0; c < d; c++) out[i * d + c] = (out[i * d + c] as number) + (pos[p + c] as number);
      }
    }
    return tf.tensor2d(out, [idValues.length, d]);
  }

  private tableValues(name: string): Float32Array {
    let values = this.frozenTables.get(name);
    if (!values) {
      values = this.param(name).dataSync() as Float32Array;
      this.frozenTables.set(name, values);
    }
    return values;
  }

  private causalMask(seqLen: number): tf.Tensor2D {
    return this.masks.get(seqLen, () => tf.keep(causalMask(seqLen)));
  }

  /** The causal mask plus ALiBi's penalties for `seqLen` positions, [heads, t, t]. */
  private alibiMask(seqLen: number, slopes: Float32Array): tf.Tensor3D {
    return this.alibiMasks.get(seqLen, () => tf.keep(alibiMask(seqLen, slopes)));
  }

  /** Rotary tables for `seqLen` positions; the query tables carry the scale 1/sqrt(headDim). */
  private rotary(seqLen: number): RotaryInput {
    return this.rotaries.get(seqLen, () => {
      const hd = this.config.dModel / this.config.heads;
      const built = tf.tidy(() => {
        const { cos, sin } = rotaryTables(seqLen, hd, this.config.ropeTheta, this.config.ropeScaling);
        const rotate = rotateHalfMatrix(hd);
        const scale = 1 / Math.sqrt(hd);
        return { cos, sin, cosQ: tf.mul(cos, scale) as tf.Tensor2D, sinQ: tf.mul(sin, scale) as tf.Tensor2D, r: rotate, rT: tf.transpose(rotate) };
      });
      for (const t of Object.values(built)) tf.keep(t);
      return { ...built, cosValues: built.cos.dataSync() as Float32Array, sinValues: built.sin.dataSync() as Float32Array };
    });
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`${this.config.arch} network: used after dispose()`);
  }
}
