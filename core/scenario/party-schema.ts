/**
 * What a party of a run is made of (a model, its training and its timing profile): shared by
 * the server, listed clients and population templates.
 */
import { z } from 'zod';
import { ModelFieldSchema } from '../models/pretrained/open.js';

export const actorId = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'expected an id of letters, digits, _ or - (starting with a letter)');
export const positiveInt = z.number({ error: 'expected a positive integer' }).int('expected a positive integer').positive('expected a positive integer');
export const ms = z.number({ error: 'expected milliseconds (a number >= 0)' }).nonnegative('expected milliseconds (a number >= 0)');

/** How long work takes on this actor, in virtual time (local runs only). */
export const ProfileSchema = z
  .object({
    /** One training sample, forward and backward. Inference costs a third of it. */
    msPerTrainSample: ms.default(20),
    /** Aligning one public sample's tokens (MinED + DTW). */
    msPerAlignSample: ms.default(1),
    /** Uplink bandwidth in megabits per second. */
    bandwidthMbps: z.number().positive().default(100),
    /** One-way network latency. */
    latencyMs: ms.default(20),
  })
  .strict();

export const TrainingSchema = z
  .object({
    /** Step 1 (clients): epochs over private data per round. */
    privateEpochs: z.number().int().nonnegative().default(1),
    /** Steps 4 and 8: epochs of distillation over the public set per round. */
    distillEpochs: z.number().int().nonnegative().default(1),
    learningRate: z.number().positive().default(3e-3),
    batchSize: positiveInt.default(8),
  })
  .strict();

/**
 * A preset name, an architecture spec, a pretrained `{ checkpoint: PATH }` (read when parsed), or
 * null: no learning, the protocol alone (core/models/protocol-only.ts).
 */
export const modelField = z.union([ModelFieldSchema, z.null()]);

/**
 * Full-weight pretraining of the base model before the run, on the built-in general corpus
 * (language, templates and `factFraction` of the task's facts). Cached on disk by content.
 */
export const PretrainSchema = z
  .object({
    /** `builtin`, or a text file (one document per paragraph) or JSONL file (a `text` field per line). */
    corpus: z.string().min(1).default('builtin'),
    /** Built-in corpus only: share of the task's facts it states. */
    factFraction: z.number().min(0).max(1).default(0.5),
    epochs: z.number().int().positive().default(20),
    learningRate: z.number().positive().default(3e-3),
    batchSize: positiveInt.default(16),
  })
  .strict();
