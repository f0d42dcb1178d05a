/**
 * A model checkpoint directory:
 *
 *   config.json           spec, resolved config, tokenizer identity, vocabulary, seed state
 *   base.safetensors      base weights, [in, out] layout (y = x W), row-major F32
 *   adapter.safetensors   LoRA adapters: `<projection>.lora_a` [in, r], `<projection>.lora_b` [r, out]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TransformerConfig } from './config.js';
import type { WeightRecord } from './network.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { ModelSpecSchema, type ModelSpec } from './spec.js';

export const CHECKPOINT_FORMAT = 'fedmkt-transformer';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointConfig {
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
}

export interface Checkpoint extends CheckpointConfig {
  base: WeightRecord;
  adapter: WeightRecord;
}

export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { base, adapter, ...config } = checkpoint;
  const metadata = { format: CHECKPOINT_FORMAT, arch: config.config.arch };
  await writeSafetensors(join(dir, 'base.safetensors'), base, metadata);
  await writeSafetensors(join(dir, 'adapter.safetensors'), adapter, { ...metadata, lora_rank: String(config.config.lora.rank) });
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
  const base = await readSafetensors(join(dir, 'base.safetensors'));
  const adapter = await readSafetensors(join(dir, 'adapter.safetensors'));
  return { ...(raw as CheckpointConfig), spec: spec.data, base: base.tensors, adapter: adapter.tensors };
}
