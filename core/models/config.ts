/**
 * A model spec resolved into every number the network needs, plus the named presets.
 */
import { isRotaryArch, ModelSpecSchema, type LoraSpec, type ModelSpec, type RopeScaling } from './spec.js';

export type Arch = ModelSpec['arch'];

/** Everything a network of either architecture is built from; plain data, saved in config.json. */
export interface TransformerConfig {
  arch: Arch;
  layers: number;
  heads: number;
  /** Key/value heads: heads, or fewer for grouped-query attention. */
  kvHeads: number;
  dModel: number;
  dFF: number;
  maxSeqLen: number;
  /** Size of the model's compact vocabulary (see ModelVocab), not the tokenizer's. */
  vocabSize: number;
  normEps: number;
  /** Rotary base and scaling; used by llama and qwen2 only. */
  ropeTheta: number;
  ropeScaling?: RopeScaling | undefined;
  /** llama, qwen2: the output head is the token embedding. */
  tieEmbeddings: boolean;
  lora: LoraSpec;
}

/** LLaMA's MLP width rule: 8/3 d rounded up to a multiple of 8. */
function llamaHiddenWidth(dModel: number): number {
  return 8 * Math.ceil((8 * dModel) / 3 / 8);
}

export function resolveConfig(spec: ModelSpec, vocabSize: number): TransformerConfig {
  if (!Number.isInteger(vocabSize) || vocabSize < 2) {
    throw new Error(`resolveConfig: vocabulary size must be an integer >= 2, got ${vocabSize}`);
  }
  const rotary = isRotaryArch(spec.arch);
  return {
    arch: spec.arch,
    layers: spec.layers,
    heads: spec.heads,
    kvHeads: spec.kvHeads ?? spec.heads,
    dModel: spec.dModel,
    dFF: spec.dFF ?? (rotary ? llamaHiddenWidth(spec.dModel) : 4 * spec.dModel),
    maxSeqLen: spec.maxSeqLen,
    vocabSize,
    normEps: spec.normEps ?? (rotary ? 1e-6 : 1e-5),
    ropeTheta: spec.ropeTheta ?? 10000,
    ...(spec.ropeScaling ? { ropeScaling: spec.ropeScaling } : {}),
    tieEmbeddings: spec.tieEmbeddings ?? false,
    lora: spec.lora,
  };
}

const LORA_DEFAULT: LoraSpec = { rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'v'] };

/** Named sizes, from test-sized up to GPT-2 small (124M parameters with GPT-2's own vocabulary). */
export const MODEL_PRESETS = {
  'gpt2-tiny': { arch: 'gpt2', layers: 2, heads: 2, dModel: 64, maxSeqLen: 64, lora: LORA_DEFAULT },
  'gpt2-small': { arch: 'gpt2', layers: 4, heads: 4, dModel: 128, maxSeqLen: 128, lora: LORA_DEFAULT },
  'gpt2-small-real': { arch: 'gpt2', layers: 12, heads: 12, dModel: 768, dFF: 3072, maxSeqLen: 1024, lora: LORA_DEFAULT },
  'llama-tiny': { arch: 'llama', layers: 2, heads: 4, dModel: 96, maxSeqLen: 64, lora: LORA_DEFAULT },
  'bloom-tiny': { arch: 'bloom', layers: 2, heads: 4, dModel: 64, maxSeqLen: 64, lora: LORA_DEFAULT },
  'llama-small': { arch: 'llama', layers: 4, heads: 4, dModel: 256, maxSeqLen: 128, lora: LORA_DEFAULT },
} as const satisfies Record<string, ModelSpec>;

type ModelPreset = keyof typeof MODEL_PRESETS;

/** A preset name, or a spec object validated against ModelSpecSchema (defaults filled in). */
export function resolveModelSpec(specOrPreset: string | unknown): ModelSpec {
  if (typeof specOrPreset === 'string') {
    if (!(specOrPreset in MODEL_PRESETS)) {
      throw new Error(`unknown model preset '${specOrPreset}'; known presets: ${Object.keys(MODEL_PRESETS).join(', ')}`);
    }
    return ModelSpecSchema.parse(structuredClone(MODEL_PRESETS[specOrPreset as ModelPreset]));
  }
  const parsed = ModelSpecSchema.safeParse(specOrPreset);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid model spec: ${issues}`);
  }
  return parsed.data;
}
