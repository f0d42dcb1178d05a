import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityTeacher, TeacherSource } from '../../core/alignment/aligned-teacher.js';
import { alignLogits, type AlignmentFallback, type ReceiverTokens } from '../../core/alignment/align-logits.js';
import { minedVocabMap } from '../../core/alignment/mined.js';
import { TokenAligner } from '../../core/alignment/token-aligner.js';
import { VocabPair } from '../../core/alignment/token-pair.js';
import type { PublicLogits } from '../../core/protocol/messages.js';
import { loadTokenizer } from '../../core/tokenizers/registry.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';
import { ListTokenizer } from './list-tokenizer.js';

type Slot = readonly [id: number, logit: number];

/** Sender logits over `samples` with top-K slots from `top` (missing slots stay empty). */
function senderLogits(
  tokenizer: Tokenizer,
  samples: readonly (readonly number[])[],
  topK: number,
  top: (sample: number, t: number, ids: readonly number[]) => readonly Slot[],
): PublicLogits {
  const positions = samples.reduce((sum, ids) => sum + ids.length, 0);
  const topKIds = new Int32Array(positions * topK).fill(-1);
  const topKLogits = new Float32Array(positions * topK).fill(-Infinity);
  let p = 0;
  samples.forEach((ids, n) => {
    ids.forEach((_, t) => {
      top(n, t, ids).forEach(([id, logit], k) => {
        topKIds[p * topK + k] = id;
        topKLogits[p * topK + k] = logit;
      });
      p++;
    });
  });
  return {
    tokenizer: tokenizer.name,
    topK,
    lengths: Int32Array.from(samples, (ids) => ids.length),
    tokenIds: Int32Array.from(samples.flat()),
    topKIds,
    topKLogits,
    ce: Float32Array.from(samples, (_, n) => 0.5 + n),
  };
}

function receiverTokens(tokenizer: Tokenizer, samples: readonly (readonly number[])[]): ReceiverTokens {
  return { tokenizer: tokenizer.name, lengths: Int32Array.from(samples, (ids) => ids.length), tokenIds: Int32Array.from(samples.flat()) };
}

function slotsAt(teacher: { topK: number; topKIds: Int32Array; topKLogits: Float32Array }, position: number): Slot[] {
  const out: Slot[] = [];
  for (let k = 0; k < teacher.topK; k++) {
    const id = teacher.topKIds[position * teacher.topK + k] as number;
    if (id >= 0) out.push([id, teacher.topKLogits[position * teacher.topK + k] as number]);
  }
  return out;
}

function id(tokenizer: Tokenizer, token: string): number {
  const found = tokenizer.tokenToId(token);
  if (found === undefined) throw new Error(`${tokenizer.name} has no token ${JSON.stringify(token)}`);
  return found;
}

const PAPER = 'we utilize the dynamic programming approach to align tokens';

describe('sequence alignment of logits', () => {
  let cacheDir = '';
  let aligner: TokenAligner;
  let gpt2: Tokenizer;
  let llama2: Tokenizer;

  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'fedmkt-align-'));
    aligner = new TokenAligner({ cacheDir });
    gpt2 = await loadTokenizer('gpt2');
    llama2 = await loadTokenizer('llama2');
  });
  afterAll(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it("paper example, GPT-2 -> LLaMA-2: every word aligns one to one and carries the sender's top-K", async () => {
    const sIds = gpt2.encode(PAPER);
    const rIds = llama2.encode(PAPER);
    expect(sIds).toHaveLength(9);
    expect(rIds).toHaveLength(9);
    const a = id(gpt2, 'Ġa');
    const newline = id(gpt2, 'Ċ');
    // Sender top-K: its next token, " a", a newline, and one empty slot.
    const sender = senderLogits(gpt2, [sIds], 4, (_, t, ids) => [
      [ids[t + 1] ?? id(gpt2, '.'), 2],
      [a, 1],
      [newline, 0.5],
    ]);
    const { teacher, stats } = await aligner.align(sender, receiverTokens(llama2, [rIds]));
    expect(stats).toEqual({ positions: 9, teacherPositions: 9, fallbackPositions: 0 });
    expect(Array.from(teacher.source)).toEqual(new Array<number>(9).fill(TeacherSource.Teacher));
    for (let t = 0; t < 9; t++) {
      expect(slotsAt(teacher, t)).toEqual([
        [rIds[t + 1] ?? id(llama2, '.'), 2],
        [id(llama2, '▁a'), 1],
        [id(llama2, '<0x0A>'), 0.5],
      ]);
    }
    expect(teacher.tokenizer).toBe('llama2');
    expect(teacher.topK).toBe(4);
    expect(Array.from(teacher.ce)).toEqual([0.5]);
    expect(await readdir(cacheDir)).toHaveLength(1);
  });

  it('paper example, LLaMA-2 -> GPT-2: the same the other way round', async () => {
    const sIds = llama2.encode(PAPER);
    const rIds = gpt2.encode(PAPER);
    const sender = senderLogits(llama2, [sIds], 2, (_, t, ids) => (t + 1 < ids.length ? [[ids[t + 1] as number, 1]] : []));
    const { teacher, stats } = await aligner.align(sender, receiverTokens(gpt2, [rIds]), 'none');
    // The last sender position predicts nothing here: no teacher, and `none` adds no fallback.
    expect(stats).toEqual({ positions: 9, teacherPositions: 8, fallbackPositions: 0 });
    for (let t = 0; t < 8; t++) expect(slotsAt(teacher, t)).toEqual([[rIds[t + 1], 1]]);
    expect(teacher.source[8]).toBe(TeacherSource.None);
  });

  it('keeps the highest logit where several sender ids land on one receiver id', async () => {
    const sIds = gpt2.encode('the');
    const rIds = llama2.encode('the');
    // " thee" maps to "▁the" by MinED; " the" maps to it exactly.
    const thee = id(gpt2, 'Ġthee');
    const pair = await aligner.pair('gpt2', 'llama2');
    expect(pair.map.targetOf[thee]).toBe(id(llama2, '▁the'));
    const sorted = senderLogits(gpt2, [sIds], 3, () => [
      [id(gpt2, 'Ġthe'), 3],
      [id(gpt2, 'Ġa'), 2],
      [thee, 1],
    ]);
    expect(slotsAt((await aligner.align(sorted, receiverTokens(llama2, [rIds]))).teacher, 0)).toEqual([
      [id(llama2, '▁the'), 3],
      [id(llama2, '▁a'), 2],
    ]);
    const unsorted = senderLogits(gpt2, [sIds], 3, () => [
      [thee, 1],
      [id(gpt2, 'Ġa'), 2],
      [id(gpt2, 'Ġthe'), 3],
    ]);
    expect(slotsAt((await aligner.align(unsorted, receiverTokens(llama2, [rIds]))).teacher, 0)).toEqual([
      [id(llama2, '▁the'), 3],
      [id(llama2, '▁a'), 2],
    ]);
  });

  it('a tokenizer aligned to itself is the identity, every top-K entry kept', async () => {
    const samples = [gpt2.encode(PAPER), gpt2.encode('the the the')];
    // Duplicate ids and an empty slot survive untouched.
    const sender = senderLogits(gpt2, samples, 3, (_, t, ids) => [
      [ids[t] as number, 1],
      [ids[t] as number, 0],
    ]);
    const { teacher, stats } = await aligner.align(sender, receiverTokens(gpt2, samples));
    expect(teacher).toEqual(identityTeacher(sender));
    expect(stats).toEqual({ positions: 12, teacherPositions: 12, fallbackPositions: 0 });

    // Same tokenizer, a different tokenisation of one sample: DTW, with every entry carried where tokens match.
    const other = [samples[0] as number[], gpt2.encode('the the')];
    const twoSlots = senderLogits(gpt2, samples, 2, (_, t, ids) => [
      [ids[t] as number, 1],
      [id(gpt2, 'Ġa'), 0],
    ]);
    const aligned = await aligner.align(twoSlots, receiverTokens(gpt2, other));
    // Receiver "the" " the" against sender "the" " the" " the": every cost ties, the diagonal is
    // preferred from the end, so the first receiver position meets two sender tokens.
    expect(Array.from(aligned.teacher.source.subarray(9))).toEqual([TeacherSource.Fallback, TeacherSource.Teacher]);
    expect(aligned.stats.teacherPositions).toBe(10);
    for (let p = 0; p < 11; p++) {
      if (aligned.teacher.source[p] === TeacherSource.Teacher) expect(slotsAt(aligned.teacher, p)).toHaveLength(2);
    }
  });

  it('`reference` teaches the current token, `next-token` the next one, `none` nothing', async () => {
    // LLaMA-2: ▁smile ▁ 😀 ▁please | ▁please ▁ 😀 ; GPT-2 splits "smile" and the emoji differently.
    const texts = ['smile 😀 please', 'please 😀'];
    const sSamples = texts.map((text) => gpt2.encode(text));
    const rSamples = texts.map((text) => llama2.encode(text));
    expect(rSamples.map((ids) => ids.map((i) => llama2.idToToken(i)))).toEqual([
      ['▁smile', '▁', '😀', '▁please'],
      ['▁please', '▁', '😀'],
    ]);
    const sender = senderLogits(gpt2, sSamples, 1, () => [[id(gpt2, '.'), 4]]);
    const run = async (fallback: AlignmentFallback) => aligner.align(sender, receiverTokens(llama2, rSamples), fallback);
    const period = id(llama2, '.');
    const [smile, space, emoji, please] = rSamples[0] as number[];

    const next = await run('next-token');
    expect(Array.from(next.teacher.source)).toEqual([2, 2, 2, 1, 1, 2, 0]);
    expect(Array.from({ length: 7 }, (_, p) => slotsAt(next.teacher, p))).toEqual([
      [[space, 0]],
      [[emoji, 0]],
      [[please, 0]],
      [[period, 4]],
      [[period, 4]],
      [[emoji, 0]],
      [],
    ]);
    expect(next.stats).toEqual({ positions: 7, teacherPositions: 2, fallbackPositions: 4 });

    const reference = await run('reference');
    expect(Array.from(reference.teacher.source)).toEqual([2, 2, 2, 1, 1, 2, 2]);
    expect([0, 1, 2, 5, 6].map((p) => slotsAt(reference.teacher, p))).toEqual([[[smile, 0]], [[space, 0]], [[emoji, 0]], [[space, 0]], [[emoji, 0]]]);

    const none = await run('none');
    expect(Array.from(none.teacher.source)).toEqual([0, 0, 0, 1, 1, 0, 0]);
    expect(none.stats).toEqual({ positions: 7, teacherPositions: 2, fallbackPositions: 0 });
    expect(Array.from(none.teacher.ce)).toEqual([0.5, 1.5]);
  });

  it('many sender tokens on one receiver token fall back; one sender token on many carries only through a match', () => {
    const split = new ListTokenizer('split', ['▁tok', 'ens', '▁ok']);
    const whole = new ListTokenizer('whole', ['▁tokens', '▁ok']);
    const sample = ' tokens ok';
    // Sender "▁tok" "ens" "▁ok" onto receiver "▁tokens" "▁ok": position 0 meets two sender tokens.
    const manyToOne = alignLogits(
      new VocabPair(split, whole, minedVocabMap(split, whole)),
      senderLogits(split, [split.encode(sample)], 1, () => [[2, 1]]),
      receiverTokens(whole, [whole.encode(sample)]),
    );
    expect(Array.from(manyToOne.teacher.source)).toEqual([TeacherSource.Fallback, TeacherSource.Teacher]);
    expect(slotsAt(manyToOne.teacher, 0)).toEqual([[1, 0]]);
    // Sender "▁tokens" onto receiver "▁tok" "ens": both meet that one sender token. MinED maps
    // "▁tokens" to "▁tok" (the receiver lacks it), so position 0 matches through the map; "ens" does not.
    const pair = new VocabPair(whole, split, minedVocabMap(whole, split));
    expect(pair.map.targetOf[0]).toBe(0);
    const oneToMany = alignLogits(
      pair,
      senderLogits(whole, [whole.encode(sample)], 1, () => [[1, 1]]),
      receiverTokens(split, [split.encode(sample)]),
    );
    expect(Array.from(oneToMany.teacher.source)).toEqual([TeacherSource.Teacher, TeacherSource.Fallback, TeacherSource.Teacher]);
    expect(slotsAt(oneToMany.teacher, 0)).toEqual([[2, 1]]);
    expect(slotsAt(oneToMany.teacher, 1)).toEqual([[2, 0]]);
  });

  it('aligns each sample on its own, the receiver lengths deciding where samples end', async () => {
    const texts = ['align tokens', 'we utilize', 'the approach'];
    const words = ['one', 'two', 'three'];
    const sender = senderLogits(
      gpt2,
      texts.map((text) => gpt2.encode(text)),
      1,
      (n) => [[id(gpt2, `Ġ${words[n]}`), 1]],
    );
    const rSamples = texts.map((text) => llama2.encode(text));
    const { teacher } = await aligner.align(sender, receiverTokens(llama2, rSamples));
    expect(Array.from(teacher.lengths)).toEqual(rSamples.map((ids) => ids.length));
    let p = 0;
    rSamples.forEach((ids, n) => {
      for (let t = 0; t < ids.length; t++, p++) {
        expect(teacher.source[p]).toBe(TeacherSource.Teacher);
        expect(slotsAt(teacher, p)).toEqual([[id(llama2, `▁${words[n]}`), 1]]);
      }
    });
  });

  it('GPT-2 "d" "ynamic" against LLaMA-2 "▁dynamic": many to one, so a fallback', async () => {
    const text = 'dynamic programming';
    const sender = senderLogits(gpt2, [gpt2.encode(text)], 1, () => [[id(gpt2, '.'), 1]]);
    const rIds = llama2.encode(text);
    const { teacher } = await aligner.align(sender, receiverTokens(llama2, [rIds]));
    expect(gpt2.encode(text).map((i) => gpt2.idToToken(i))).toEqual(['d', 'ynamic', 'Ġprogramming']);
    expect(Array.from(teacher.source)).toEqual([TeacherSource.Fallback, TeacherSource.Teacher]);
    expect(slotsAt(teacher, 0)).toEqual([[rIds[1], 0]]);
  });

  it('names what is wrong with bad input', async () => {
    const sIds = gpt2.encode(PAPER);
    const good = senderLogits(gpt2, [sIds], 1, () => [[0, 0]]);
    const receiver = receiverTokens(llama2, [llama2.encode(PAPER)]);
    await expect(aligner.align(good, receiverTokens(llama2, [llama2.encode(PAPER), [1]]))).rejects.toThrow(/sender has 1 public samples, receiver 2/);
    const badId = senderLogits(gpt2, [sIds], 1, (_, t) => [[t === 3 ? 99999 : 0, 0]]);
    await expect(aligner.align(badId, receiver)).rejects.toThrow(/top-K id 99999 at position 3, slot 0 is outside the vocabulary \[0, 50257\)/);
    await expect(aligner.align({ ...good, tokenIds: good.tokenIds.subarray(1) }, receiver)).rejects.toThrow(/tokenIds has 8 entries but lengths sum to 9/);
    const negative = { ...receiver, tokenIds: Int32Array.from(receiver.tokenIds, (v, i) => (i === 2 ? -5 : v)) };
    await expect(aligner.align(good, negative)).rejects.toThrow(/receiver logits \(llama2\): token id -5 at sample 0, position 2/);
    await expect(aligner.align(good, receiver, 'current' as AlignmentFallback)).rejects.toThrow(/unknown fallback "current"/);
    await expect(aligner.align({ ...good, tokenizer: 'nope' }, receiver)).rejects.toThrow(/Unknown tokenizer "nope"/);
  });
});
