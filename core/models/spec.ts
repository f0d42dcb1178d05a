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
    arch: z.enum(['gpt2', 'llama']),
    layers: z.number().int().positive(),
    heads: z.number().int().positive(),
    dModel: z.number().int().positive(),
    /** MLP hidden width; defaults to 4 * dModel (gpt2) or about 8/3 * dModel (llama). */
    dFF: z.number().int().positive().optional(),
    maxSeqLen: z.number().int().positive().default(64),
    lora: LoraSpecSchema.default({ rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'v'] }),
  })
  .strict()
  .refine((m) => m.dModel % m.heads === 0, { message: 'dModel must be divisible by heads', path: ['dModel'] });

export type LoraSpec = z.infer<typeof LoraSpecSchema>;
export type ModelSpec = z.infer<typeof ModelSpecSchema>;
