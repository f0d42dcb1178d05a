/**
 * Hugging Face model folders: `config.json` plus `model.safetensors`, or shards listed in
 * `model.safetensors.index.json`. The config's `model_type` picks the architecture (llama,
 * qwen2, gpt2, opt, bloom); every setting this project's architecture files do not implement is
 * refused by name rather than ignored.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensorsHeader } from '../safetensors.js';
import type { ModelSpec, RopeScaling } from '../spec.js';
import { hfRecipes, hfIgnored } from './hf-layouts.js';
import type { OpenedCheckpoint } from './layout.js';
import { TensorSource, type StoredTensor } from './tensor-source.js';

/** config.json as read: the fields used are checked where they are read. */
export type HfConfig = Record<string, unknown>;

const HF_MODEL_TYPES = ['llama', 'qwen2', 'gpt2', 'opt', 'bloom'] as const;

export function readHfConfig(folder: string): HfConfig {
  const file = join(folder, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`Hugging Face checkpoint ${folder}: cannot read config.json (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`Hugging Face checkpoint ${file}: not a JSON object`);
  return raw as HfConfig;
}

/** Typed reads of config fields, naming the file and field when one is wrong. */
function fields(config: HfConfig, file: string) {
  const number = (key: string, fallback?: number): number => {
    const v = config[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: "${key}" must be a number, got ${JSON.stringify(config[key])}`);
    return v;
  };
  const int = (key: string, fallback?: number): number => {
    const v = number(key, fallback);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${file}: "${key}" must be a positive integer, got ${v}`);
    return v;
  };
  /** Refuses a setting the architecture does not implement, unless it has the value given. */
  const expect = (key: string, wanted: unknown, why: string): void => {
    if (key in config && config[key] !== null && config[key] !== wanted) {
      throw new Error(`${file}: "${key}": ${JSON.stringify(config[key])} is not supported (${why}; supported: ${JSON.stringify(wanted)})`);
    }
  };
  return { number, int, expect };
}

function ropeScaling(config: HfConfig, file: string): RopeScaling | undefined {
  const raw = config.rope_scaling as Record<string, unknown> | null | undefined;
  if (raw === null || raw === undefined) return undefined;
  const type = raw.rope_type ?? raw.type;
  const num = (key: string): number => {
    const v = raw[key];
    if (typeof v !== 'number') throw new Error(`${file}: "rope_scaling.${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalMaxPositions: num('original_max_position_embeddings'),
    };
  }
  throw new Error(`${file}: "rope_scaling" of type ${JSON.stringify(type)} is not supported (supported: linear, llama3)`);
}

/** The architecture of a Hugging Face config, and its vocabulary rows and special ids. */
export function hfModelSpec(config: HfConfig, folder: string): Pick<OpenedCheckpoint, 'spec' | 'vocabRows' | 'specials'> {
  const file = join(folder, 'config.json');
  const { number, int, expect } = fields(config, file);
  const type = config.model_type;
  const specials = {
    ...(typeof config.bos_token_id === 'number' ? { bos: config.bos_token_id } : {}),
    ...(typeof config.eos_token_id === 'number' ? { eos: config.eos_token_id } : {}),
  };
  const vocabRows = int('vocab_size');
  if (type === 'llama' || type === 'qwen2') {
    const heads = int('num_attention_heads');
    const dModel = int('hidden_size');
    expect('hidden_act', 'silu', 'LLaMA blocks use SwiGLU');
    expect('head_dim', dModel / heads, 'the head size is hidden_size / num_attention_heads here');
    expect('mlp_bias', false, 'LLaMA blocks have no MLP biases here');
    if (type === 'llama') expect('attention_bias', false, 'LLaMA projections have no biases here');
    else expect('use_sliding_window', false, 'attention here is full causal');
    const scaling = ropeScaling(config, file);
    const spec: Omit<ModelSpec, 'lora'> = {
      arch: type,
      layers: int('num_hidden_layers'),
      heads,
      kvHeads: int('num_key_value_heads', heads),
      dModel,
      dFF: int('intermediate_size'),
      maxSeqLen: int('max_position_embeddings'),
      normEps: number('rms_norm_eps', 1e-6),
      ropeTheta: number('rope_theta', 10000),
      tieEmbeddings: config.tie_word_embeddings === true,
      ...(scaling ? { ropeScaling: scaling } : {}),
    };
    return { spec, vocabRows, specials };
  }
  if (type === 'gpt2') {
    expect('activation_function', 'gelu_new', "GPT-2's MLP uses the tanh GELU here");
    expect('scale_attn_by_inverse_layer_idx', false, 'scores are scaled by 1/sqrt(head size) only');
    const dModel = int('n_embd');
    const spec = {
      arch: 'gpt2',
      layers: int('n_layer'),
      heads: int('n_head'),
      dModel,
      dFF: int('n_inner', 4 * dModel),
      maxSeqLen: int('n_positions'),
      normEps: number('layer_norm_epsilon', 1e-5),
    } as const;
    return { spec, vocabRows, specials };
  }
  if (type === 'opt') {
    const dModel = int('hidden_size');
    expect('activation_function', 'relu', "OPT's MLP uses ReLU");
    expect('do_layer_norm_before', true, 'blocks are pre-norm here (OPT-350m is post-norm)');
    expect('word_embed_proj_dim', dModel, 'embeddings are not projected here');
    expect('enable_bias', true, 'projections have biases');
    expect('layer_norm_elementwise_affine', true, 'LayerNorms have gains and biases');
    const spec = {
      arch: 'opt',
      layers: int('num_hidden_layers'),
      heads: int('num_attention_heads'),
      dModel,
      dFF: int('ffn_dim'),
      maxSeqLen: int('max_position_embeddings'),
      normEps: 1e-5,
    } as const;
    return { spec, vocabRows, specials };
  }
  if (type === 'bloom') {
    expect('apply_residual_connection_post_layernorm', false, 'residuals are taken before the LayerNorm');
    const dModel = int('hidden_size', config.n_embed as number);
    const spec = {
      arch: 'bloom',
      layers: int('n_layer', config.num_hidden_layers as number),
      heads: int('n_head', config.num_attention_heads as number),
      dModel,
      dFF: 4 * dModel,
      // ALiBi has no position table; BLOOM was trained on 2048 tokens
      maxSeqLen: int('seq_length', 2048),
      normEps: number('layer_norm_epsilon', 1e-5),
    } as const;
    return { spec, vocabRows, specials };
  }
  throw new Error(`${file}: model_type ${JSON.stringify(type)} is not supported (supported: ${HF_MODEL_TYPES.join(', ')})`);
}

/** The weight files of a folder: model.safetensors, or the shards its index names. */
export function hfWeightFiles(folder: string): string[] {
  const single = join(folder, 'model.safetensors');
  if (existsSync(single)) return [single];
  const indexFile = join(folder, 'model.safetensors.index.json');
  if (!existsSync(indexFile)) {
    const hint = existsSync(join(folder, 'pytorch_model.bin')) ? ' (pytorch_model.bin is not read: convert it to safetensors)' : '';
    throw new Error(`Hugging Face checkpoint ${folder}: neither model.safetensors nor model.safetensors.index.json${hint}`);
  }
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(readFileSync(indexFile, 'utf8')) as { weight_map?: Record<string, string> };
  } catch (e) {
    throw new Error(`Hugging Face checkpoint ${indexFile}: not valid JSON (${(e as Error).message})`);
  }
  if (!index.weight_map || typeof index.weight_map !== 'object') throw new Error(`Hugging Face checkpoint ${indexFile}: no "weight_map"`);
  return [...new Set(Object.values(index.weight_map))].sort().map((f) => join(folder, f));
}

/** Every tensor of the safetensors files, from their headers. */
function safetensorsTensors(files: readonly string[], folder: string): Map<string, StoredTensor> {
  const tensors = new Map<string, StoredTensor>();
  for (const file of files) {
    const fd = openSync(file, 'r');
    try {
      const size = statSync(file).size;
      const lengthBytes = Buffer.alloc(8);
      readSync(fd, lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (size < 8 || 8 + headerLength > size)
        throw new Error(`safetensors ${file}: header length ${headerLength} runs past the end of the file (${size} bytes)`);
      const json = Buffer.alloc(headerLength);
      readSync(fd, json, 0, headerLength, 8);
      const dataStart = 8 + headerLength;
      for (const e of parseSafetensorsHeader(json, size - dataStart, file).entries) {
        if (tensors.has(e.name)) throw new Error(`Hugging Face checkpoint ${folder}: tensor '${e.name}' is stored twice`);
        tensors.set(e.name, { shape: e.shape, file, offset: dataStart + e.begin, dtype: e.dtype as StoredTensor['dtype'] });
      }
    } finally {
      closeSync(fd);
    }
  }
  return tensors;
}

export function openHf(folder: string): OpenedCheckpoint {
  const config = readHfConfig(folder);
  const described = hfModelSpec(config, folder);
  const source = new TensorSource(folder, safetensorsTensors(hfWeightFiles(folder), folder));
  const arch = described.spec.arch;
  return {
    path: folder,
    format: 'hugging-face',
    ...described,
    source,
    recipes: (c, rows) => hfRecipes(arch, c, rows, described.vocabRows, source),
    ignored: (name) => hfIgnored(arch, name, described.spec.tieEmbeddings === true),
  };
}
