/**
 * Token alignment costs.
 * - Full MinED vocabulary maps gpt2 <-> llama2 through a fresh cache folder (so computing, not
 *   a cache hit, is timed), against brute force timed in the same run on a random sample of
 *   source tokens and scaled to the full vocabulary. Goal: under 20 s, at least 50x faster.
 * - Sequence alignment of real text (gpt2 sender, llama2 receiver, top-128): DTW cells/s and
 *   aligned pairs/s, against the same alignment with plain dynamic-programming token costs.
 *   Goal: at least 5M cells/s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alignLogits } from '../core/alignment/align-logits.js';
import { dynamicTimeWarping } from '../core/alignment/dtw.js';
import { bruteForceTargets, minedTargets } from '../core/alignment/mined.js';
import { VocabPair } from '../core/alignment/token-pair.js';
import { VocabMapCache } from '../core/alignment/vocab-map-cache.js';
import type { PublicLogits } from '../core/protocol/messages.js';
import { Random } from '../core/random.js';
import { normalisedVocab } from '../core/tokenizers/normalise.js';
import { loadTokenizer } from '../core/tokenizers/registry.js';
import { timeIt, type Benchmark, type Figure } from './harness.js';

const BRUTE_FORCE_SAMPLE = 400;

// Lewis Carroll, Alice's Adventures in Wonderland, chapter 1 (public domain).
const TEXT = [
  [
    'Alice was beginning to get very tired of sitting by her sister on the bank, and of having',
    'nothing to do: once or twice she had peeped into the book her sister was reading, but it had no',
    'pictures or conversations in it, "and what is the use of a book," thought Alice "without',
    'pictures or conversations?"',
  ].join(' '),
  [
    'So she was considering in her own mind (as well as she could, for the hot day made her feel very',
    'sleepy and stupid), whether the pleasure of making a daisy-chain would be worth the trouble of',
    'getting up and picking the daisies, when suddenly a White Rabbit with pink eyes ran close by',
    'her.',
  ].join(' '),
  [
    'There was nothing so very remarkable in that; nor did Alice think it so very much out of the way',
    'to hear the Rabbit say to itself, "Oh dear! Oh dear! I shall be late!" (when she thought it over',
    'afterwards, it occurred to her that she ought to have wondered at this, but at the time it all',
    'seemed quite natural); but when the Rabbit actually took a watch out of its waistcoat-pocket,',
    'and looked at it, and then hurried on, Alice started to her feet, for it flashed across her mind',
    'that she had never before seen a rabbit with either a waistcoat-pocket, or a watch to take out',
    'of it, and burning with curiosity, she ran across the field after it, and fortunately was just',
    'in time to see it pop down a large rabbit-hole under the hedge.',
  ].join(' '),
  ['In another moment down went Alice after it, never once considering how in the world she was to', 'get out again.'].join(' '),
  [
    'The rabbit-hole went straight on like a tunnel for some way, and then dipped suddenly down, so',
    'suddenly that Alice had not a moment to think about stopping herself before she found herself',
    'falling down a very deep well.',
  ].join(' '),
  [
    'Either the well was very deep, or she fell very slowly, for she had plenty of time as she went',
    'down to look about her and to wonder what was going to happen next. First, she tried to look',
    'down and make out what she was coming to, but it was too dark to see anything; then she looked',
    'at the sides of the well, and noticed that they were filled with cupboards and book-shelves;',
    'here and there she saw maps and pictures hung upon pegs. She took down a jar from one of the',
    'shelves as she passed; it was labelled "ORANGE MARMALADE", but to her great disappointment it',
    'was empty: she did not like to drop the jar for fear of killing somebody underneath, so managed',
    'to put it into one of the cupboards as she fell past it.',
  ].join(' '),
].join('\n');

const SAMPLES = 24;
const SAMPLE_WORDS = 90;
const TOP_K = 128;

const benchmarks: Benchmark[] = [
  {
    name: 'alignment-vocab-map',
    async run() {
      const figures: Figure[] = [];
      const scratch = await mkdtemp(join(tmpdir(), 'fedmkt-bench-vocab-maps-'));
      try {
        for (const [from, to] of [
          ['gpt2', 'llama2'],
          ['llama2', 'gpt2'],
        ] as const) {
          const source = await loadTokenizer(from);
          const target = await loadTokenizer(to);
          normalisedVocab(source);
          normalisedVocab(target);
          let run = 0;
          const seconds = await timeIt(() => new VocabMapCache(join(scratch, `${from}-${to}-${run++}`)).get(source, target), 2);
          const random = new Random(0xa11);
          const sample = Int32Array.from({ length: BRUTE_FORCE_SAMPLE }, () => random.int(source.vocabSize));
          const start = performance.now();
          const brute = bruteForceTargets(source, target, sample);
          const bruteSeconds = ((performance.now() - start) / 1000) * (source.vocabSize / BRUTE_FORCE_SAMPLE);
          const fast = minedTargets(source, target, sample);
          const sameAnswers = fast.targetOf.every((id, i) => id === brute.targetOf[i] && fast.distance[i] === brute.distance[i]);
          if (!sameAnswers) throw new Error(`MinED ${from} -> ${to} differs from brute force on the bench sample`);
          figures.push({
            name: `vocab-map ${from}->${to}`,
            value: seconds,
            unit: 's',
            baseline: bruteSeconds,
            ratio: bruteSeconds / seconds,
            ratioMeaning: 'speedup: brute-force seconds (scaled from the sample) / MinED seconds',
            goal: '< 20 s and >= 50x brute force',
            sourceTokens: source.vocabSize,
            targetTokens: target.vocabSize,
            bruteForceSample: BRUTE_FORCE_SAMPLE,
            sampleMatchesBruteForce: sameAnswers,
          });
        }
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
      return figures;
    },
  },
  {
    name: 'alignment-sequence',
    async run() {
      const scratch = await mkdtemp(join(tmpdir(), 'fedmkt-bench-align-'));
      try {
        const sender = await loadTokenizer('gpt2');
        const receiver = await loadTokenizer('llama2');
        const pair = new VocabPair(sender, receiver, await new VocabMapCache(scratch).get(sender, receiver));
        const words = TEXT.split(/(?<=\s)/);
        const texts = Array.from({ length: SAMPLES }, (_, n) => {
          const at = (n * 37) % words.length;
          return [...words, ...words].slice(at, at + SAMPLE_WORDS).join('');
        });
        const sIds = texts.map((text) => sender.encode(text));
        const rIds = texts.map((text) => receiver.encode(text));
        const logits = senderLogits(sender.name, sIds, sender.vocabSize);
        const receiverView = {
          tokenizer: receiver.name,
          lengths: Int32Array.from(rIds, (ids) => ids.length),
          tokenIds: Int32Array.from(rIds.flat()),
        };
        const cells = sIds.reduce((sum, ids, n) => sum + ids.length * (rIds[n] as number[]).length, 0);
        let pathPairs = 0;
        const seconds = await timeIt(() => {
          pathPairs = 0;
          const result = alignLogits(pair, logits, receiverView);
          pathPairs = result.stats.positions;
        }, 5);
        const plainSeconds = await timeIt(() => plainDtw(pair, sIds, rIds), 3);
        const cellsPerSecond = cells / seconds;
        const plainCellsPerSecond = cells / plainSeconds;
        const positions = receiverView.tokenIds.length;
        return [
          {
            name: 'alignment DTW cells/s',
            value: cellsPerSecond,
            unit: 'cells/s',
            baseline: plainCellsPerSecond,
            ratio: cellsPerSecond / plainCellsPerSecond,
            baselineIs: 'DTW with plain dynamic-programming Levenshtein costs, no top-K carrying',
            goal: '>= 5e6 cells/s',
            samples: SAMPLES,
            cells,
            topK: TOP_K,
          },
          {
            name: 'alignment aligned positions/s',
            value: pathPairs / seconds,
            unit: 'positions/s',
            receiverPositions: positions,
            senderPositions: logits.tokenIds.length,
            secondsPerRound: seconds,
          },
        ];
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  },
];

/** Sender logits with top-128 ids drawn at random and falling logits. */
function senderLogits(tokenizer: string, samples: number[][], vocabSize: number): PublicLogits {
  const random = new Random(0x5eed);
  const positions = samples.reduce((sum, ids) => sum + ids.length, 0);
  const topKIds = new Int32Array(positions * TOP_K);
  const topKLogits = new Float32Array(positions * TOP_K);
  for (let p = 0; p < positions; p++) {
    let logit = 10;
    for (let k = 0; k < TOP_K; k++) {
      topKIds[p * TOP_K + k] = random.int(vocabSize);
      topKLogits[p * TOP_K + k] = logit;
      logit -= random.next() * 0.2;
    }
  }
  return {
    tokenizer,
    topK: TOP_K,
    lengths: Int32Array.from(samples, (ids) => ids.length),
    tokenIds: Int32Array.from(samples.flat()),
    topKIds,
    topKLogits,
    ce: new Float32Array(samples.length),
  };
}

/** The baseline: the same warping with every local cost from the plain dynamic programme. */
function plainDtw(pair: VocabPair, sIds: number[][], rIds: number[][]): void {
  sIds.forEach((s, n) => {
    const r = rIds[n] as number[];
    const cost = new Float64Array(s.length * r.length);
    for (let i = 0; i < s.length; i++) {
      for (let j = 0; j < r.length; j++) cost[i * r.length + j] = pair.tokenCost(s[i] as number, r[j] as number);
    }
    dynamicTimeWarping(cost, s.length, r.length);
  });
}

export default benchmarks;
