/**
 * A population of clients instead of a list, and which of them take part in each round
 * (docs/populations.md). Templates are drawn per client with their weights; profile figures may
 * be distributions, drawn per client; availability and capacity may come from traces.
 */
import { z } from 'zod';
import { TokenizerFieldSchema } from '../tokenizers/registry.js';
import { modelField, positiveInt, PretrainSchema, TrainingSchema } from './party-schema.js';

const positive = z.number({ error: 'expected a positive number' }).positive('expected a positive number');

/** A profile figure: fixed, or drawn once per client from a heavy-tailed distribution. */
const DrawnSchema = z.union(
  [
    z.number({ error: 'expected a number >= 0' }).nonnegative('expected a number >= 0'),
    z.object({ lognormal: z.object({ median: positive, sigma: z.number().nonnegative() }).strict() }).strict(),
    z.object({ pareto: z.object({ scale: positive, alpha: positive }).strict() }).strict(),
  ],
  { error: 'expected a number, { lognormal: { median, sigma } } or { pareto: { scale, alpha } }' },
);

const TemplateProfileSchema = z
  .object({
    msPerTrainSample: DrawnSchema.default(20),
    msPerAlignSample: DrawnSchema.default(1),
    bandwidthMbps: DrawnSchema.default(100),
    latencyMs: DrawnSchema.default(20),
  })
  .strict();

const TemplateSchema = z
  .object({
    /** Share of the population drawn from this template (weights need not sum to 1). */
    weight: positive.default(1),
    model: modelField,
    tokenizer: TokenizerFieldSchema.default('gpt2'),
    pretrain: PretrainSchema.optional(),
    training: TrainingSchema.default(TrainingSchema.parse({})),
    profile: TemplateProfileSchema.default(TemplateProfileSchema.parse({})),
  })
  .strict();

/** How private data is split over the population (shards drawn lazily per client from the seed). */
const PopulationDataSchema = z
  .object({
    split: z.enum(['iid', 'domain', 'dirichlet']).default('iid'),
    /** Dirichlet concentration: small values give each client few domains. */
    alpha: positive.default(0.5),
    /** `domain` split: share of a client's shard drawn from other domains. */
    otherDomainShare: z.number().min(0).max(1).default(0.1),
  })
  .strict();

const DiurnalSchema = z
  .object({
    /** Length of a day. */
    periodMs: positive.default(86_400_000),
    /** Mean share of the day a client is online. */
    onlineFraction: z.number().gt(0).max(1).default(0.5),
    /** Mean length of one online session (lengths are Pareto, heavy-tailed). */
    sessionMs: positive.default(3_600_000),
  })
  .strict();

/** When each client can be reached: always, a synthetic diurnal model, or a trace file (JSON, CSV, or FedScale's). */
const AvailabilitySchema = z.union(
  [
    z.literal('always-on'),
    z.object({ diurnal: DiurnalSchema.default(DiurnalSchema.parse({})) }).strict(),
    z.object({ trace: z.string().min(1, 'expected a file name') }).strict(),
  ],
  { error: 'expected "always-on", { diurnal: {...} } or { trace: FILE }' },
);

export const PopulationSchema = z
  .object({
    count: positiveInt.max(10_000_000, 'expected at most 10,000,000 clients'),
    /** Client templates, each client drawing one with these weights. */
    clients: z.array(TemplateSchema).min(1, 'expected at least one client template'),
    data: PopulationDataSchema.default(PopulationDataSchema.parse({})),
    availability: AvailabilitySchema.default('always-on'),
    /** Per-client compute and network capacity (FedScale `{computation, communication}` or CSV); overrides the templates' profiles. */
    capacity: z
      .object({ trace: z.string().min(1, 'expected a file name') })
      .strict()
      .optional(),
    /** Client ids are this prefix and the client's index (`c0`, `c1`, ...). */
    idPrefix: z
      .string()
      .regex(/^[A-Za-z][A-Za-z_-]{0,15}$/, 'expected letters, _ or - (starting with a letter)')
      .default('c'),
    /** Clients whose accuracy is measured after each round they take part in (the server always is): the first this many of each round's selection. */
    evaluateClients: z.number().int().nonnegative().default(16),
  })
  .strict();

export const SelectionSchema = z
  .object({
    /** Uploads the server waits for each round... */
    perRound: positiveInt.optional(),
    /** ...or that share of the population. */
    fraction: z.number().gt(0, 'expected a fraction in (0, 1]').max(1, 'expected a fraction in (0, 1]').optional(),
    /** Clients announced per upload awaited (FedScale: 1.3); the slowest rest are stragglers. */
    overcommit: z.number().min(1, 'expected a factor >= 1').default(1),
    strategy: z.enum(['random', 'round-robin', 'availability-aware']).default('random'),
  })
  .strict();

export type Population = z.infer<typeof PopulationSchema>;
export type Selection = z.infer<typeof SelectionSchema>;
export type Drawn = z.infer<typeof DrawnSchema>;
export type AvailabilityModel = z.infer<typeof AvailabilitySchema>;

/** Uploads the server waits for per round. */
export function perRoundOf(population: Population, selection: Selection | undefined): number {
  if (!selection) return population.count;
  const wanted = selection.perRound ?? Math.ceil((selection.fraction ?? 1) * population.count);
  return Math.max(1, Math.min(population.count, wanted));
}

/** Clients announced per round: the uploads awaited, over-committed. */
export function announcedPerRound(population: Population, selection: Selection | undefined): number {
  return Math.min(population.count, Math.ceil(perRoundOf(population, selection) * (selection?.overcommit ?? 1)));
}

/** Every client takes part in every round: the population runs as the equivalent list of clients. */
export function isResident(population: Population, selection: Selection | undefined): boolean {
  return perRoundOf(population, selection) >= population.count && population.availability === 'always-on' && population.capacity === undefined;
}
