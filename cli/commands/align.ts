import type { Command } from 'commander';
import { TeacherSource } from '../../core/alignment/aligned-teacher.js';
import { ALIGNMENT_FALLBACKS, alignLogits, type AlignmentFallback } from '../../core/alignment/align-logits.js';
import { TokenAligner } from '../../core/alignment/token-aligner.js';
import { defaultVocabMapCacheDir } from '../../core/alignment/vocab-map-cache.js';
import type { PublicLogits } from '../../core/protocol/messages.js';
import { listTokenizers } from '../../core/tokenizers/registry.js';

export type Print = (line: string) => void;

const printToStdout: Print = (line) => process.stdout.write(`${line}\n`);

interface AlignOptions {
  base: string;
  blend: string;
  text: string;
  fallback: string;
  cacheDir: string;
}

function show(token: string): string {
  return JSON.stringify(token);
}

/**
 * The blend (sender) side as it would arrive, with an oracle top-1 at each position: the
 * blend's own next token. Real runs carry a model's top-K; this makes the carried ids visible.
 */
function oracleLogits(tokenizer: string, ids: readonly number[]): PublicLogits {
  const topKIds = new Int32Array(ids.length).fill(-1);
  for (let t = 0; t + 1 < ids.length; t++) topKIds[t] = ids[t + 1] as number;
  return {
    tokenizer,
    topK: 1,
    lengths: Int32Array.of(ids.length),
    tokenIds: Int32Array.from(ids),
    topKIds,
    topKLogits: new Float32Array(ids.length),
    ce: Float32Array.of(0),
  };
}

async function runAlign(options: AlignOptions, print: Print): Promise<void> {
  const fallback = options.fallback as AlignmentFallback;
  if (!ALIGNMENT_FALLBACKS.includes(fallback)) {
    throw new Error(`--fallback ${options.fallback}: expected one of ${ALIGNMENT_FALLBACKS.join(', ')}`);
  }
  const aligner = new TokenAligner({ cacheDir: options.cacheDir });
  const pair = await aligner.pair(options.blend, options.base);
  const blend = pair.sender;
  const base = pair.receiver;
  const blendIds = blend.encode(options.text);
  const baseIds = base.encode(options.text);
  const listing = (ids: readonly number[], name: (id: number) => string) => ids.map((id, t) => `[${t}] ${show(name(id))}`).join(' ');
  print(`base ${base.name} (receives), ${baseIds.length} tokens:`);
  print(`  ${listing(baseIds, (id) => base.idToToken(id))}`);
  print(`blend ${blend.name} (sends), ${blendIds.length} tokens:`);
  print(`  ${listing(blendIds, (id) => blend.idToToken(id))}`);

  const alignment = pair.alignSample(blendIds, 0, blendIds.length, baseIds, 0, baseIds.length);
  print(`DTW path (blend -> base), cost ${alignment.path.cost}:`);
  for (let p = 0; p < alignment.path.rows.length; p++) {
    const i = alignment.path.rows[p] as number;
    const j = alignment.path.cols[p] as number;
    print(`  blend[${i}] ${show(blend.idToToken(blendIds[i] as number))} -> base[${j}] ${show(base.idToToken(baseIds[j] as number))}`);
  }

  const receiver = { tokenizer: base.name, lengths: Int32Array.of(baseIds.length), tokenIds: Int32Array.from(baseIds) };
  const { teacher, stats } = alignLogits(pair, oracleLogits(blend.name, blendIds), receiver, fallback);
  print(`base positions (fallback ${fallback}; blend top-1 = its own next token, for display):`);
  for (let j = 0; j < baseIds.length; j++) {
    const i = alignment.senderOf[j] as number;
    const from = i >= 0 ? `blend[${i}] ${show(blend.idToToken(blendIds[i] as number))}` : 'several blend tokens';
    const top = teacher.topKIds[j * teacher.topK] as number;
    const topName = top >= 0 ? show(base.idToToken(top)) : '';
    const source = teacher.source[j];
    const what =
      source === TeacherSource.Teacher
        ? `teacher (one-to-one, same token): top-1 ${topName}`
        : source === TeacherSource.Fallback
          ? `fallback ${fallback}: one-hot ${topName}`
          : 'no teacher';
    print(`  [${j}] ${show(base.idToToken(baseIds[j] as number))} <- ${from}: ${what}`);
  }
  const none = stats.positions - stats.teacherPositions - stats.fallbackPositions;
  print(`${stats.teacherPositions} teacher, ${stats.fallbackPositions} fallback, ${none} none, of ${stats.positions} base positions`);
}

export function registerAlignCommand(program: Command, print: Print = printToStdout): void {
  const names = listTokenizers()
    .map((entry) => entry.name)
    .join(', ');
  program
    .command('align')
    .description('show MinED token alignment of a text between two tokenizers (blend sends, base receives)')
    .requiredOption('--base <tokenizer>', `receiving tokenizer: ${names}, or a folder with tokenizer.json`)
    .requiredOption('--blend <tokenizer>', 'sending tokenizer (same choices)')
    .requiredOption('--text <text>', 'text to tokenise with both')
    .option('--fallback <kind>', `positions without a one-to-one match: ${ALIGNMENT_FALLBACKS.join(', ')}`, 'next-token')
    .option('--cache-dir <dir>', 'vocab map cache folder', defaultVocabMapCacheDir())
    .action((options: AlignOptions) => runAlign(options, print));
}
