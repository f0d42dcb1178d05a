/**
 * A bigram language model with a low-rank (LoRA-style) adapter, on a real tokenizer, in plain
 * typed arrays (no TF.js): for runs where the protocol, not the learning, is under study
 * (`model: bigram` or `bigram-r<rank>` in a scenario).
 *
 *   logits(next | prev) = base[prev, :] + (alpha / rank) * A[prev, :] · B
 *
 * `base` (V x V, shared by every model of the run with the same tokenizer and pretraining
 * corpus) holds add-k smoothed log-probabilities of the pretraining corpus's bigrams (zeros
 * without pretraining); A (V x r) and B (r x V) are the adapter, trained with Adam. V is the
 * run's compact vocabulary (core/models/vocab.ts). The model keeps the LanguageModel contract:
 * position t predicts token t+1, CE over answer tokens, KD against aligned top-K teachers,
 * loss = kdAlpha * CE + (1 - kdAlpha) * KD. Work is grouped by previous token, so cost grows
 * with distinct tokens, not positions.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TeacherSource, type AlignedTeacher } from '../alignment/aligned-teacher.js';
import { checkLossWeights, teacherDistribution, termWeights } from '../learning/loss.js';
import type { PublicLogits } from '../protocol/messages.js';
import { Random } from '../random.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { AdapterWeights, ChoiceItem, ChoiceScores, DistillOptions, LanguageModel, TextSample, TrainOptions, TrainStats } from './model.js';
import { encodeSample } from './sample-encoding.js';
import { type BigramBase, type BigramSpec, type Encoded, restoredBase } from './bigram-base.js';
import { MODEL_UNK, ModelVocab } from './vocab.js';

interface Row {
  z: Float64Array;
  lse: number;
}

/** One position's target for a gradient step: a CE target or a teacher distribution, with its weight. */
interface Group {
  weight: number;
  /** Target mass per model id (sums to `weight`). */
  mass: Map<number, number>;
}

/** config.json of a saved bigram model (base.f32 and adapter.f32 beside it). */
interface SavedBigram {
  format: 'fedmkt-bigram';
  version: 1;
  spec: BigramSpec;
  tokenizer: string;
  vocab: number[];
  seed: number;
  calls: number;
}

async function readFloats(file: string, count: number): Promise<Float32Array> {
  const bytes = await readFile(file);
  if (bytes.length !== count * 4) throw new Error(`${file}: ${bytes.length} bytes, expected ${count * 4} (${count} float32)`);
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Whether `dir` holds a bigram model's checkpoint (config.json of format fedmkt-bigram). */
export async function isBigramCheckpoint(dir: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { format?: unknown }).format === 'fedmkt-bigram';
  } catch {
    return false;
  }
}

export class BigramModel implements LanguageModel {
  readonly tokenizer: string;
  readonly a: Float32Array;
  readonly b: Float32Array;
  private calls = 0;
  private readonly scale: number;
  private readonly hideUnk: boolean;

  constructor(
    readonly base: BigramBase,
    readonly spec: BigramSpec,
    readonly seed: number,
  ) {
    this.tokenizer = base.tokenizer.name;
    const v = base.size;
    const r = spec.rank;
    this.scale = spec.alpha / r;
    this.a = new Float32Array(v * r);
    this.b = new Float32Array(r * v);
    const rng = Random.stream(seed, 'bigram/lora-init');
    const std = 1 / Math.sqrt(r);
    for (let i = 0; i < this.a.length; i++) this.a[i] = rng.normal() * std;
    this.hideUnk = !base.vocab.unkHasTokenizerId;
  }

  /** Logits of the next token after model id `p` (into `into` when given), and their log-sum-exp. */
  private row(p: number, into?: Float64Array, exps?: Float64Array): Row {
    const v = this.base.size;
    const r = this.spec.rank;
    const z = into ?? new Float64Array(v);
    const baseRow = this.base.logits.subarray(p * v, (p + 1) * v);
    for (let n = 0; n < v; n++) z[n] = baseRow[n] as number;
    for (let j = 0; j < r; j++) {
      const w = this.scale * (this.a[p * r + j] as number);
      if (w === 0) continue;
      const bRow = j * v;
      for (let n = 0; n < v; n++) z[n]! += w * (this.b[bRow + n] as number);
    }
    let max = -Infinity;
    for (let n = 0; n < v; n++) if ((z[n] as number) > max) max = z[n] as number;
    let sum = 0;
    if (exps) {
      for (let n = 0; n < v; n++) {
        const e = Math.exp((z[n] as number) - max);
        exps[n] = e;
        sum += e;
      }
      // exps become the softmax itself.
      for (let n = 0; n < v; n++) exps[n] = (exps[n] as number) / sum;
    } else for (let n = 0; n < v; n++) sum += Math.exp((z[n] as number) - max);
    return { z, lse: max + Math.log(sum) };
  }

  private rows(): (p: number) => Row {
    const cache = new Map<number, Row>();
    return (p) => {
      let row = cache.get(p);
      if (!row) cache.set(p, (row = this.row(p)));
      return row;
    };
  }

  async trainEpochs(samples: readonly TextSample[], options: TrainOptions): Promise<TrainStats> {
    checkOptions(options, 'trainEpochs');
    const encoded = samples.map((s) => this.base.encode(s));
    return this.optimise(encoded.length, options, 'train', (batch) => {
      const groups = new Map<number, Group>();
      let n = 0;
      for (const i of batch) {
        const e = encoded[i] as Encoded;
        for (let t = Math.max(0, e.answerStart - 1); t + 1 < e.model.length; t++) n++;
      }
      if (n === 0) return { groups, tokens: 0 };
      for (const i of batch) {
        const e = encoded[i] as Encoded;
        for (let t = Math.max(0, e.answerStart - 1); t + 1 < e.model.length; t++) addMass(groups, e.model[t] as number, e.model[t + 1] as number, 1 / n);
      }
      return { groups, tokens: n };
    });
  }

  async distillEpochs(samples: readonly TextSample[], teacher: AlignedTeacher, options: DistillOptions): Promise<TrainStats> {
    checkOptions(options, 'distillEpochs');
    checkLossWeights(options);
    const encoded = samples.map((s) => this.base.encode(s));
    const offsets = this.checkTeacher(teacher, encoded);
    const k = teacher.topK;
    const alpha = options.kdAlpha;
    return this.optimise(encoded.length, options, 'distill', (batch) => {
      const groups = new Map<number, Group>();
      let nCe = 0;
      const kd: { p: number; probs: Map<number, number> }[] = [];
      for (const i of batch) {
        const e = encoded[i] as Encoded;
        nCe += Math.max(0, e.model.length - Math.max(1, e.answerStart));
        const offset = offsets[i] as number;
        for (let t = 0; t < e.model.length; t++) {
          const pos = offset + t;
          if (teacher.source[pos] === TeacherSource.None) continue;
          const probs = teacherMass(
            teacher.topKIds.subarray(pos * k, (pos + 1) * k),
            teacher.topKLogits.subarray(pos * k, (pos + 1) * k),
            options.temperature,
            this.base.vocab,
          );
          if (probs.size > 0) kd.push({ p: e.model[t] as number, probs });
        }
      }
      const w = termWeights(alpha, nCe, kd.length);
      if (w.ce > 0) {
        for (const i of batch) {
          const e = encoded[i] as Encoded;
          for (let t = Math.max(0, e.answerStart - 1); t + 1 < e.model.length; t++) addMass(groups, e.model[t] as number, e.model[t + 1] as number, w.ce);
        }
      }
      if (w.kd > 0) for (const { p, probs } of kd) for (const [id, q] of probs) addMass(groups, p, id, w.kd * q);
      return { groups, tokens: nCe + kd.length };
    });
  }

  async scorePublic(samples: readonly TextSample[], topK: number): Promise<PublicLogits> {
    if (!Number.isInteger(topK) || topK < 1) throw new Error(`scorePublic: topK must be a positive integer, got ${topK}`);
    const encoded = samples.map((s) => this.base.encode(s));
    const lengths = Int32Array.from(encoded, (e) => e.ids.length);
    let total = 0;
    for (const n of lengths) total += n;
    const out: PublicLogits = {
      tokenizer: this.tokenizer,
      topK,
      lengths,
      tokenIds: new Int32Array(total),
      topKIds: new Int32Array(total * topK).fill(-1),
      topKLogits: new Float32Array(total * topK).fill(-Infinity),
      ce: new Float32Array(samples.length),
    };
    const rowOf = this.rows();
    const tops = new Map<number, { ids: Int32Array; logits: Float32Array }>();
    const topOf = (p: number) => {
      let top = tops.get(p);
      if (!top) tops.set(p, (top = this.top(rowOf(p).z, topK)));
      return top;
    };
    let pos = 0;
    encoded.forEach((e, s) => {
      let ll = 0;
      for (let t = 0; t < e.ids.length; t++, pos++) {
        out.tokenIds[pos] = e.ids[t] as number;
        const p = e.model[t] as number;
        const top = topOf(p);
        out.topKIds.set(top.ids, pos * topK);
        out.topKLogits.set(top.logits, pos * topK);
        if (t + 1 < e.ids.length && t + 1 >= e.answerStart) {
          const row = rowOf(p);
          ll += (row.z[e.model[t + 1] as number] as number) - row.lse;
        }
      }
      out.ce[s] = e.ids.length > 0 ? -ll / e.ids.length : 0;
    });
    return out;
  }

  async scoreChoices(items: readonly ChoiceItem[]): Promise<ChoiceScores> {
    const rowOf = this.rows();
    const logLikelihood = items.map((item, i) => {
      if (item.choices.length === 0) throw new Error(`scoreChoices: item ${i} has no choices`);
      return this.base.encodeChoices(item).map((e) => {
        let ll = 0;
        for (let t = Math.max(0, e.answerStart - 1); t + 1 < e.model.length; t++) {
          const row = rowOf(e.model[t] as number);
          ll += (row.z[e.model[t + 1] as number] as number) - row.lse;
        }
        return ll;
      });
    });
    return { logLikelihood, choiceChars: items.map((item) => item.choices.map((c) => c.length)) };
  }

  async generate(prompts: readonly string[], options: { maxNewTokens: number }): Promise<string[]> {
    const eos = this.base.tokenizer.specials.eos;
    const rowOf = this.rows();
    return prompts.map((prompt) => {
      const start = encodeSample(this.base.tokenizer, { prompt, answer: '' }, this.spec.maxSeqLen);
      let p = this.base.vocab.toModel(start.ids[start.ids.length - 1] ?? eos ?? 0);
      const out: number[] = [];
      for (let step = 0; step < options.maxNewTokens; step++) {
        const { z } = rowOf(p);
        let best = -1;
        for (let n = 0; n < z.length; n++) if (!(this.hideUnk && n === MODEL_UNK) && (best < 0 || (z[n] as number) > (z[best] as number))) best = n;
        const tokId = this.base.vocab.toTokenizer(best);
        if (eos !== undefined && tokId === eos) break;
        out.push(tokId);
        p = best;
      }
      return this.base.tokenizer.decode(out);
    });
  }

  getAdapter(): AdapterWeights {
    const v = this.base.size;
    const r = this.spec.rank;
    return { 'bigram.lora_a': { shape: [v, r], values: this.a.slice() }, 'bigram.lora_b': { shape: [r, v], values: this.b.slice() } };
  }

  setAdapter(weights: AdapterWeights): void {
    for (const [name, target] of [
      ['bigram.lora_a', this.a],
      ['bigram.lora_b', this.b],
    ] as const) {
      const t = weights[name];
      if (!t) throw new Error(`bigram setAdapter: missing tensor "${name}" (got ${Object.keys(weights).join(', ') || 'none'})`);
      if (t.values.length !== target.length) throw new Error(`bigram setAdapter: "${name}" has ${t.values.length} values, expected ${target.length}`);
      target.set(t.values);
    }
  }

  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const config: SavedBigram = {
      format: 'fedmkt-bigram',
      version: 1,
      spec: this.spec,
      tokenizer: this.tokenizer,
      vocab: this.base.vocab.tokenizerIds(),
      seed: this.seed,
      calls: this.calls,
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await writeFile(join(dir, 'base.f32'), Buffer.from(this.base.logits.buffer, this.base.logits.byteOffset, this.base.logits.byteLength));
    await writeFile(join(dir, 'adapter.f32'), Buffer.concat([Buffer.from(this.a.buffer), Buffer.from(this.b.buffer)]));
  }

  /** A model `save` wrote: its base table (shared with models restored from the same table), adapter and draw count. */
  static async load(dir: string, tokenizer: Tokenizer): Promise<BigramModel> {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Partial<SavedBigram>;
    if (config.format !== 'fedmkt-bigram' || config.version !== 1) {
      throw new Error(`${dir}: not a bigram checkpoint (config.json format ${JSON.stringify(config.format)}, version ${JSON.stringify(config.version)})`);
    }
    const { spec, vocab: ids, seed, calls } = config as SavedBigram;
    if (config.tokenizer !== tokenizer.name) throw new Error(`${dir}: saved with tokenizer '${config.tokenizer}', given '${tokenizer.name}'`);
    const vocab = ModelVocab.fromSaved(tokenizer.name, ids);
    const v = vocab.size;
    const adapter = await readFloats(join(dir, 'adapter.f32'), 2 * v * spec.rank);
    const base = restoredBase(tokenizer, vocab, await readFloats(join(dir, 'base.f32'), v * v), spec.maxSeqLen);
    const model = new BigramModel(base, spec, seed);
    model.a.set(adapter.subarray(0, v * spec.rank));
    model.b.set(adapter.subarray(v * spec.rank));
    model.calls = calls;
    return model;
  }

  dispose(): void {}

  /** The K largest logits of a row (ties: lower id first), as tokenizer ids; the unk hidden when it has no id. */
  private top(z: Float64Array, k: number): { ids: Int32Array; logits: Float32Array } {
    const ids = new Int32Array(k).fill(-1);
    const logits = new Float32Array(k).fill(-Infinity);
    const model = new Int32Array(k).fill(-1);
    const vals = new Float64Array(k).fill(-Infinity);
    let filled = 0;
    for (let n = 0; n < z.length; n++) {
      if (this.hideUnk && n === MODEL_UNK) continue;
      const x = z[n] as number;
      if (filled === k && x <= (vals[k - 1] as number)) continue;
      let at = Math.min(filled, k - 1);
      while (at > 0 && x > (vals[at - 1] as number)) {
        vals[at] = vals[at - 1] as number;
        model[at] = model[at - 1] as number;
        at--;
      }
      vals[at] = x;
      model[at] = n;
      if (filled < k) filled++;
    }
    for (let j = 0; j < filled; j++) {
      ids[j] = this.base.vocab.toTokenizer(model[j] as number);
      logits[j] = vals[j] as number;
    }
    return { ids, logits };
  }

  /** Adam over A and B; each batch's targets grouped by previous token. */
  private optimise(
    count: number,
    options: TrainOptions,
    purpose: string,
    targets: (batch: number[]) => { groups: Map<number, Group>; tokens: number },
  ): TrainStats {
    const rng = Random.stream(this.seed, `bigram/${purpose}:${this.calls++}`);
    const v = this.base.size;
    const r = this.spec.rank;
    const mA = new Float32Array(this.a.length);
    const vA = new Float32Array(this.a.length);
    const mB = new Float32Array(this.b.length);
    const vB = new Float32Array(this.b.length);
    const gA = new Float32Array(this.a.length);
    const gB = new Float32Array(this.b.length);
    const gz = new Float64Array(v);
    const zBuf = new Float64Array(v);
    const beta1 = 0.9;
    const beta2 = 0.999;
    const eps = 1e-8;
    let step = 0;
    let tokens = 0;
    let lossSum = 0;
    let batches = 0;
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
      lossSum = 0;
      batches = 0;
      for (let start = 0; start < order.length; start += options.batchSize) {
        const { groups, tokens: n } = targets(order.slice(start, start + options.batchSize));
        if (groups.size === 0) continue;
        tokens += n;
        gA.fill(0);
        gB.fill(0);
        let loss = 0;
        for (const [p, group] of groups) {
          // gz = weight * softmax(z) - target mass
          const { z, lse } = this.row(p, zBuf, gz);
          for (let i = 0; i < v; i++) gz[i] = group.weight * (gz[i] as number);
          loss += group.weight * lse;
          for (const [id, mass] of group.mass) {
            gz[id]! -= mass;
            loss -= mass * (z[id] as number);
          }
          for (let j = 0; j < r; j++) {
            const aj = this.scale * (this.a[p * r + j] as number);
            const bRow = j * v;
            let dot = 0;
            for (let i = 0; i < v; i++) {
              const g = gz[i] as number;
              dot += g * (this.b[bRow + i] as number);
              gB[bRow + i]! += aj * g;
            }
            gA[p * r + j]! += this.scale * dot;
          }
        }
        step++;
        const c1 = 1 - beta1 ** step;
        const c2 = 1 - beta2 ** step;
        const lr = options.learningRate;
        const adam = (w: Float32Array, g: Float32Array, m: Float32Array, s: Float32Array) => {
          for (let i = 0; i < w.length; i++) {
            const gi = g[i] as number;
            const mi = beta1 * (m[i] as number) + (1 - beta1) * gi;
            const si = beta2 * (s[i] as number) + (1 - beta2) * gi * gi;
            m[i] = mi;
            s[i] = si;
            w[i] = (w[i] as number) - (lr * (mi / c1)) / (Math.sqrt(si / c2) + eps);
          }
        };
        adam(this.a, gA, mA, vA);
        adam(this.b, gB, mB, vB);
        lossSum += loss;
        batches++;
      }
    }
    return { loss: batches > 0 ? lossSum / batches : Number.NaN, tokens, steps: step };
  }

  private checkTeacher(teacher: AlignedTeacher, encoded: readonly Encoded[]): Int32Array {
    const where = `distillEpochs (bigram, tokenizer '${this.tokenizer}')`;
    if (teacher.tokenizer !== this.tokenizer) throw new Error(`${where}: teacher is aligned to tokenizer '${teacher.tokenizer}'`);
    if (teacher.lengths.length !== encoded.length)
      throw new Error(`${where}: teacher covers ${teacher.lengths.length} samples, but ${encoded.length} were given`);
    const offsets = new Int32Array(encoded.length);
    let total = 0;
    encoded.forEach((e, i) => {
      if (teacher.lengths[i] !== e.ids.length) throw new Error(`${where}: sample ${i} has ${e.ids.length} tokens, the teacher ${teacher.lengths[i]} positions`);
      offsets[i] = total;
      total += e.ids.length;
    });
    if (teacher.topKIds.length !== total * teacher.topK || teacher.source.length !== total)
      throw new Error(`${where}: teacher arrays do not cover ${total} positions`);
    return offsets;
  }
}

function addMass(groups: Map<number, Group>, p: number, id: number, w: number): void {
  let g = groups.get(p);
  if (!g) groups.set(p, (g = { weight: 0, mass: new Map() }));
  g.weight += w;
  g.mass.set(id, (g.mass.get(id) ?? 0) + w);
}

/** The teacher distribution of one position (core/learning/loss.ts), as model ids (unknown ids fold into unk). */
function teacherMass(ids: Int32Array, logits: Float32Array, temperature: number, vocab: ModelVocab): Map<number, number> {
  const probs = teacherDistribution(ids, logits, temperature);
  const out = new Map<number, number>();
  for (let k = 0; k < ids.length; k++) {
    const p = probs[k] as number;
    if (p === 0) continue;
    const id = vocab.toModel(ids[k] as number);
    out.set(id, (out.get(id) ?? 0) + p);
  }
  return out;
}

function checkOptions(options: TrainOptions, where: string): void {
  if (!Number.isInteger(options.epochs) || options.epochs < 0) throw new Error(`${where}: epochs must be a non-negative integer, got ${options.epochs}`);
  if (!(options.learningRate > 0)) throw new Error(`${where}: learningRate must be positive, got ${options.learningRate}`);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1)
    throw new Error(`${where}: batchSize must be a positive integer, got ${options.batchSize}`);
}
