import { z } from 'zod';

/** LoRA adapter settings of one model (scenario: `server.model.lora`, `clients[i].model.lora`). */
const LoraSpecSchema = z
  .object({
    rank: z.number().int().positive().default(8),
    alpha: z.number().positive().default(16),
    dropout: z.number().min(0).max(1).default(0.05),
    /** Which projections get adapters: attention q, k, v, o and optionally the MLP. */
    targets: z
      .array(z.enum(['q', 'k', 'v', 'o', 'mlp']))
      .nonempty()
      .default(['q', 'v']),
  })
  .strict();

/** Rotary position scaling of long-context checkpoints (Hugging Face `rope_scaling`). */
const RopeScalingSchema = z.union([
  /** Positions divided by `factor`. */
  z.object({ type: z.literal('linear'), factor: z.number().positive() }).strict(),
  /** LLaMA-3.1's frequency-dependent scaling. */
  z
    .object({
      type: z.literal('llama3'),
      factor: z.number().positive(),
      lowFreqFactor: z.number().positive(),
      highFreqFactor: z.number().positive(),
      originalMaxPositions: z.number().int().positive(),
    })
    .strict(),
]);

/** Where a pretrained model's weights are (see pretrained/): a llama2.c `.bin` or a Hugging Face folder. */
const CheckpointPathSchema = z.string().min(1);

/**
 * A pretrained model by its checkpoint (scenario: `model: { checkpoint: PATH }`): the architecture
 * comes from the file, the adapters from `lora`. `vocab`: `full` keeps an embedding row for every
 * token of the tokenizer; `compact` only for the run's tokens (ModelVocab), sliced from the
 * checkpoint's rows. `maxSeqLen` defaults to the checkpoint's context length.
 */
export const CheckpointSpecSchema = z
  .object({
    checkpoint: CheckpointPathSchema,
    maxSeqLen: z.number().int().min(2).optional(),
    vocab: z.enum(['full', 'compact']).default('full'),
    lora: LoraSpecSchema.default({ rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'v'] }),
  })
  .strict();

/** Architectures with rotary positions and RMSNorm (LLaMA's block). */
const ROTARY_ARCHS = ['llama', 'qwen2'] as const;

export function isRotaryArch(arch: string): boolean {
  return (ROTARY_ARCHS as readonly string[]).includes(arch);
}

/** A decoder-only transformer, as a plain config (nanoGPT style). */
export const ModelSpecSchema = z
  .object({
    arch: z.enum(['gpt2', 'llama', 'bloom', 'qwen2', 'opt']),
    layers: z.number().int().positive(),
    heads: z.number().int().positive(),
    /** Key/value heads (grouped-query attention; llama, qwen2), default heads. */
    kvHeads: z.number().int().positive().optional(),
    dModel: z.number().int().positive(),
    /** MLP hidden width; defaults to 4 * dModel (gpt2, bloom) or about 8/3 * dModel (llama). */
    dFF: z.number().int().positive().optional(),
    maxSeqLen: z.number().int().min(2).default(64),
    /** Epsilon of LayerNorm (gpt2, bloom: default 1e-5) or RMSNorm (llama, default 1e-6). */
    normEps: z.number().positive().optional(),
    /** Rotary base (llama, qwen2), default 10000. */
    ropeTheta: z.number().positive().optional(),
    ropeScaling: RopeScalingSchema.optional(),
    /** llama, qwen2: the output head is the token embedding (gpt2, bloom and opt always tie it). */
    tieEmbeddings: z.boolean().optional(),
    /** Base weights read from this pretrained checkpoint instead of initialised (see CheckpointSpecSchema). */
    checkpoint: CheckpointPathSchema.optional(),
    /** With a checkpoint: a full or compact vocabulary (see CheckpointSpecSchema). */
    vocab: z.enum(['full', 'compact']).optional(),
    lora: LoraSpecSchema.default({ rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'v'] }),
  })
  .strict()
  .refine((m) => m.dModel % m.heads === 0, { message: 'dModel must be divisible by heads', path: ['dModel'] })
  .refine((m) => !isRotaryArch(m.arch) || (m.dModel / m.heads) % 2 === 0, {
    message: 'llama head dimension (dModel / heads) must be even for rotary positions',
    path: ['heads'],
  })
  .refine((m) => m.kvHeads === undefined || (isRotaryArch(m.arch) && m.heads % m.kvHeads === 0), {
    message: 'kvHeads (llama, qwen2 only) must divide heads',
    path: ['kvHeads'],
  });

export type LoraSpec = z.infer<typeof LoraSpecSchema>;
export type ModelSpec = z.infer<typeof ModelSpecSchema>;
export type CheckpointSpec = z.infer<typeof CheckpointSpecSchema>;
export type RopeScaling = z.infer<typeof RopeScalingSchema>;
