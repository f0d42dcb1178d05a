/**
 * `model: null`: no learning at all, for testing the protocol. Public-set logits have the shapes
 * and sizes a real model's would (the party's own tokenisation of every public sample, top-K
 * entries per position) with contents drawn from the seed, so messages, codecs and transfer
 * times are those of a real run while a whole schedule costs milliseconds.
 *
 * "Skill" stands in for what a model learns: every training or distillation call adds one, the
 * adapter is that number (FedAvg averages it), and a multiple-choice item is answered correctly
 * with a probability that grows with it. So properties over accuracy still see a client that
 * missed its rounds, and nothing here pretends to be a language model.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TeacherSource, type AlignedTeacher, type AlignmentStats, type TokenAlignment } from '../alignment/aligned-teacher.js';
import type { PublicLogits } from '../protocol/messages.js';
import { Random } from '../random.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { AdapterWeights, ChoiceItem, ChoiceScores, LanguageModel, TextSample, TrainStats } from './model.js';
import { encodeSample } from './sample-encoding.js';

/** Longest tokenisation of a public sample, as a small model's context would cut it. */
const MAX_SEQ_LEN = 64;
const CONFIG_FILE = 'protocol-only.json';

export class ProtocolOnlyModel implements LanguageModel {
  readonly tokenizer: string;
  private skill = 0;
  private draws = 0;

  constructor(
    private readonly tok: Tokenizer,
    private readonly seed: number,
  ) {
    this.tokenizer = tok.name;
  }

  static async load(dir: string, tokenizer: Tokenizer): Promise<ProtocolOnlyModel> {
    const saved = JSON.parse(readFileSync(join(dir, CONFIG_FILE), 'utf8')) as { seed: number; skill: number; draws: number };
    const model = new ProtocolOnlyModel(tokenizer, saved.seed);
    model.skill = saved.skill;
    model.draws = saved.draws;
    return model;
  }

  async trainEpochs(samples: readonly TextSample[]): Promise<TrainStats> {
    return this.learn(samples.length);
  }

  async distillEpochs(samples: readonly TextSample[]): Promise<TrainStats> {
    return this.learn(samples.length);
  }

  async scorePublic(samples: readonly TextSample[], topK: number): Promise<PublicLogits> {
    const { lengths, tokenIds } = this.encode(samples);
    const rng = this.rng();
    const positions = tokenIds.length;
    const topKIds = new Int32Array(positions * topK);
    const topKLogits = new Float32Array(positions * topK);
    for (let p = 0; p < positions; p++) {
      let logit = 4 * rng.next();
      for (let k = 0; k < topK; k++) {
        topKIds[p * topK + k] = rng.int(this.tok.vocabSize);
        topKLogits[p * topK + k] = logit;
        logit -= 0.1 + rng.next();
      }
    }
    const ce = Float32Array.from(samples, () => 0.5 + 3 * rng.next());
    return { tokenizer: this.tokenizer, topK, lengths: lengths.slice(), tokenIds: tokenIds.slice(), topKIds, topKLogits, ce };
  }

  async scoreChoices(items: readonly ChoiceItem[]): Promise<ChoiceScores> {
    const rng = this.rng();
    const knows = 1 - 0.75 * 0.9 ** this.skill;
    const logLikelihood = items.map((item) => {
      const right = rng.next() < knows;
      return item.choices.map((_, i) => (i === item.label ? (right ? -1 : -3) : -2 - rng.next() * 0.5));
    });
    return { logLikelihood, choiceChars: items.map((item) => item.choices.map((c) => c.length)) };
  }

  getAdapter(): AdapterWeights {
    return { skill: { shape: [1], values: Float32Array.of(this.skill) } };
  }

  setAdapter(weights: AdapterWeights): void {
    const skill = weights.skill?.values[0];
    if (skill === undefined) throw new Error('protocol-only model: the adapter has no "skill" entry');
    this.skill = skill;
  }

  async save(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, CONFIG_FILE), JSON.stringify({ seed: this.seed, skill: this.skill, draws: this.draws }));
  }

  dispose(): void {}

  private learn(samples: number): TrainStats {
    this.skill += 1;
    return { loss: 1 / this.skill, tokens: samples, steps: 1 };
  }

  /** A fresh stream for each call: what a model computes depends on how far it got, not on wall time. */
  private rng(): Random {
    return Random.stream(this.seed, `protocol-only/${this.draws++}`);
  }

  private encode(samples: readonly TextSample[]): Tokenised {
    let byTokenizer = tokenised.get(samples);
    if (!byTokenizer) tokenised.set(samples, (byTokenizer = new Map()));
    let known = byTokenizer.get(this.tok);
    if (!known) {
      const ids = samples.map((s) => encodeSample(this.tok, s, MAX_SEQ_LEN).ids);
      known = { lengths: Int32Array.from(ids, (x) => x.length), tokenIds: Int32Array.from(ids.flat()) };
      byTokenizer.set(this.tok, known);
    }
    return known;
  }
}

interface Tokenised {
  lengths: Int32Array;
  tokenIds: Int32Array;
}

/** Tokenised sample lists, shared by every model of the process: exploration runs thousands of federations over the same data. */
const tokenised = new WeakMap<readonly TextSample[], Map<Tokenizer, Tokenised>>();

/** Whether a checkpoint folder holds a protocol-only model. */
export function isProtocolOnlyCheckpoint(dir: string): boolean {
  try {
    readFileSync(join(dir, CONFIG_FILE));
    return true;
  } catch {
    return false;
  }
}

/**
 * Steps 3 and 7 without MinED: the teacher lies over the receiver's own tokenisation (its
 * top-K) and carries the sender's per-sample cross-entropy, which is what DualMinCE compares.
 */
export class ProtocolOnlyAlignment implements TokenAlignment {
  async align(sender: PublicLogits, receiver: PublicLogits): Promise<{ teacher: AlignedTeacher; stats: AlignmentStats }> {
    if (sender.lengths.length !== receiver.lengths.length)
      throw new Error(`protocol-only alignment: ${sender.lengths.length} sender samples, ${receiver.lengths.length} receiver samples`);
    // Views of the receiver's arrays, not copies: teachers are only read.
    const teacher: AlignedTeacher = {
      tokenizer: receiver.tokenizer,
      topK: receiver.topK,
      lengths: receiver.lengths,
      topKIds: receiver.topKIds,
      topKLogits: receiver.topKLogits,
      source: new Uint8Array(receiver.tokenIds.length).fill(TeacherSource.Teacher),
      ce: sender.ce,
    };
    const positions = receiver.tokenIds.length;
    return { teacher, stats: { positions, teacherPositions: positions, fallbackPositions: 0 } };
  }
}
