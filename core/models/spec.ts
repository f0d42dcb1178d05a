import { z } from 'zod';

/** LoRA adapter settings of one model (scenario: `server.model.lora`, `clients[i].model.lora`). */
export const LoraSpecSchema = z
  .object({
    rank: z.number().int().positive().default(8),
    alpha: z.number().positive().default(16),
    dropout: z.number().min(0).max(1).default(0.05),
    /** Which projections get adapters: attention q, k, v, o and optionally the MLP. */
    targets: z.array(z.enum(['q', 'k', 'v', 'o', 'mlp'])).nonempty().default(['q', 'v']),
  })
  .strict();

/** A decoder-only transformer, as a plain config (nanoGPT style). */
export const ModelSpecSchema = z
  .object({
    arch: z.enum(['gpt2', 'llama', 'bloom']),
    layers: z.number().int().positive(),
    heads: z.number().int().positive(),
    dModel: z.number().int().positive(),
    /** MLP hidden width; defaults to 4 * dModel (gpt2, bloom) or about 8/3 * dModel (llama). */
    dFF: z.number().int().positive().optional(),
    maxSeqLen: z.number().int().min(2).default(64),
    /** Epsilon of LayerNorm (gpt2, bloom: default 1e-5) or RMSNorm (llama, default 1e-6). */
    normEps: z.number().positive().optional(),
    /** Rotary base (llama only), default 10000. */
    ropeTheta: z.number().positive().optional(),
    lora: LoraSpecSchema.default({ rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'v'] }),
  })
  .strict()
  .refine((m) => m.dModel % m.heads === 0, { message: 'dModel must be divisible by heads', path: ['dModel'] })
  .refine((m) => m.arch !== 'llama' || (m.dModel / m.heads) % 2 === 0, {
    message: 'llama head dimension (dModel / heads) must be even for rotary positions',
    path: ['heads'],
  });

export type LoraSpec = z.infer<typeof LoraSpecSchema>;
export type ModelSpec = z.infer<typeof ModelSpecSchema>;
