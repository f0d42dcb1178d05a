/**
 * A model checkpoint directory:
 *
 *   config.json           spec, resolved config, tokenizer identity, vocabulary, seed state
 *   base.safetensors      base weights, [in, out] layout (y = x W), row-major F32
 *   adapter.safetensors   LoRA adapters: `<projection>.lora_a` [in, r], `<projection>.lora_b` [r, out]
 *
 * A model whose base is a pretrained checkpoint, unchanged since it was loaded, writes no
 * base.safetensors: config.json's `pretrainedBase` (and the adapter's metadata) name that
 * checkpoint by path and SHA-256, and reading it back loads the base from there.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TransformerConfig } from './config.js';
import type { WeightRecord } from './network.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { ModelSpecSchema, type ModelSpec } from './spec.js';

export const CHECKPOINT_FORMAT = 'fedmkt-transformer';
export const CHECKPOINT_VERSION = 1;

interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  spec: ModelSpec;
  config: TransformerConfig;
  tokenizer: { name: string; contentHash: string };
  /** Tokenizer id of each model id (ModelVocab.tokenizerIds). */
  vocab: number[];
  seed: number;
  /** Random-consuming calls made before saving. */
  calls: number;
  /** The pretrained checkpoint the base is, when base.safetensors is not written. */
  pretrainedBase?: PretrainedBase;
}

/** A pretrained checkpoint by path (as given, relative to the working directory) and content. */
interface PretrainedBase {
  checkpoint: string;
  sha256: string;
}

export interface Checkpoint extends CheckpointConfig {
  /** Absent when `pretrainedBase` names the base. */
  base?: WeightRecord;
  adapter: WeightRecord;
}

export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { base, adapter, ...config } = checkpoint;
  if (!base === !config.pretrainedBase) throw new Error(`writeCheckpoint ${dir}: give the base weights or the pretrained checkpoint they are, one of the two`);
  const metadata = { format: CHECKPOINT_FORMAT, arch: config.config.arch };
  const baseNamed: Record<string, string> = config.pretrainedBase
    ? { base_checkpoint: config.pretrainedBase.checkpoint, base_sha256: config.pretrainedBase.sha256 }
    : {};
  if (base) await writeSafetensors(join(dir, 'base.safetensors'), base, metadata);
  await writeSafetensors(join(dir, 'adapter.safetensors'), adapter, { ...metadata, ...baseNamed, lora_rank: String(config.config.lora.rank) });
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  const configPath = join(dir, 'config.json');
  let raw: Partial<CheckpointConfig>;
  try {
    raw = JSON.parse(await readFile(configPath, 'utf8')) as Partial<CheckpointConfig>;
  } catch (e) {
    throw new Error(`checkpoint ${configPath}: cannot read config (${(e as Error).message})`);
  }
  if (raw.format !== CHECKPOINT_FORMAT || raw.version !== CHECKPOINT_VERSION) {
    throw new Error(`checkpoint ${configPath}: format ${raw.format} v${raw.version} is not ${CHECKPOINT_FORMAT} v${CHECKPOINT_VERSION}`);
  }
  const spec = ModelSpecSchema.safeParse(raw.spec);
  if (!spec.success) throw new Error(`checkpoint ${configPath}: invalid spec (${spec.error.message})`);
  for (const field of ['config', 'tokenizer', 'vocab', 'seed', 'calls'] as const) {
    if (raw[field] === undefined) throw new Error(`checkpoint ${configPath}: missing '${field}'`);
  }
  const pretrained = raw.pretrainedBase;
  if (pretrained !== undefined && (typeof pretrained.checkpoint !== 'string' || typeof pretrained.sha256 !== 'string')) {
    throw new Error(`checkpoint ${configPath}: 'pretrainedBase' needs a checkpoint path and a sha256`);
  }
  const base = pretrained ? undefined : (await readSafetensors(join(dir, 'base.safetensors'))).tensors;
  const adapter = await readSafetensors(join(dir, 'adapter.safetensors'));
  return { ...(raw as CheckpointConfig), spec: spec.data, ...(base ? { base } : {}), adapter: adapter.tensors };
}
