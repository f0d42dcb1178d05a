import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { minedVocabMap, type VocabMap } from '../../core/alignment/mined.js';
import { defaultVocabMapCacheDir, VocabMapCache } from '../../core/alignment/vocab-map-cache.js';
import { normalisedVocab } from '../../core/tokenizers/normalise.js';
import { listTokenizers, loadTokenizer } from '../../core/tokenizers/registry.js';
import type { Tokenizer } from '../../core/tokenizers/tokenizer.js';

export type Print = (line: string) => void;

const printToStdout: Print = (line) => process.stdout.write(`${line}\n`);

interface VocabMapOptions {
  from: string;
  to: string;
  out: string;
  cacheDir: string;
  cache: boolean;
}

/** Counts describing a vocab map, as printed by `fedmkt vocab-map`. */
interface VocabMapSummary {
  tokens: number;
  exact: number;
  nearest: number;
  meanDistance: number;
  specialsPinned: number;
  specialsUnmapped: number;
}

function summariseVocabMap(map: VocabMap, source: Tokenizer): VocabMapSummary {
  const view = normalisedVocab(source);
  const summary: VocabMapSummary = {
    tokens: map.targetOf.length,
    exact: 0,
    nearest: 0,
    meanDistance: 0,
    specialsPinned: 0,
    specialsUnmapped: 0,
  };
  let distanceSum = 0;
  for (let id = 0; id < map.targetOf.length; id++) {
    const distance = map.distance[id] as number;
    if (view.isSpecial(id)) {
      if (map.targetOf[id] === -1) summary.specialsUnmapped++;
      else summary.specialsPinned++;
    } else if (distance === 0) {
      summary.exact++;
    } else {
      summary.nearest++;
    }
    if (!view.isSpecial(id)) distanceSum += distance;
  }
  const mapped = summary.exact + summary.nearest;
  summary.meanDistance = mapped === 0 ? 0 : distanceSum / mapped;
  return summary;
}

/** `{ sourceToken: targetToken }` with tokens exactly as in each vocabulary; null where unmapped. */
function vocabMapAsJson(map: VocabMap, source: Tokenizer, target: Tokenizer): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (let id = 0; id < map.targetOf.length; id++) {
    const targetId = map.targetOf[id] as number;
    out[source.idToToken(id)] = targetId < 0 ? null : target.idToToken(targetId);
  }
  return out;
}

async function runVocabMap(options: VocabMapOptions, print: Print): Promise<void> {
  const [source, target] = await Promise.all([loadTokenizer(options.from), loadTokenizer(options.to)]);
  const start = performance.now();
  const map = options.cache ? await new VocabMapCache(options.cacheDir).get(source, target) : minedVocabMap(source, target);
  const seconds = (performance.now() - start) / 1000;
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(options.out, `${JSON.stringify(vocabMapAsJson(map, source, target), null, 1)}\n`);
  const s = summariseVocabMap(map, source);
  print(`MinED vocab map ${source.name} (${source.vocabSize} tokens) -> ${target.name} (${target.vocabSize} tokens)`);
  print(`  exact matches:     ${s.exact} (${((100 * s.exact) / s.tokens).toFixed(1)}%)`);
  print(`  nearest by MinED:  ${s.nearest}, mean distance over all mapped tokens ${s.meanDistance.toFixed(3)}`);
  print(`  specials by role:  ${s.specialsPinned} pinned, ${s.specialsUnmapped} without counterpart (null)`);
  print(`  time:              ${seconds.toFixed(2)} s${options.cache ? ` (cache: ${options.cacheDir})` : ''}`);
  print(`  written to ${options.out}`);
}

export function registerVocabMapCommand(program: Command, print: Print = printToStdout): void {
  const names = listTokenizers()
    .map((entry) => entry.name)
    .join(', ');
  program
    .command('vocab-map')
    .description('compute the MinED vocabulary map from one tokenizer to another and write it as JSON')
    .requiredOption('--from <tokenizer>', `source tokenizer: ${names}, or a folder with tokenizer.json`)
    .requiredOption('--to <tokenizer>', 'target tokenizer (same choices)')
    .requiredOption('--out <file>', 'JSON file: { sourceToken: targetToken }')
    .option('--cache-dir <dir>', 'vocab map cache folder', defaultVocabMapCacheDir())
    .option('--no-cache', 'compute without reading or writing the cache')
    .action((options: VocabMapOptions) => runVocabMap(options, print));
}
