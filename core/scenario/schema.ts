import { z } from 'zod';
import { TokenizerFieldSchema } from '../tokenizers/registry.js';
import { checkFaultRefs, DEFAULT_FAULTS, FaultsSchema } from '../faults/schema.js';
import { plural } from '../wording.js';
import { perRoundOf, PopulationSchema, SelectionSchema } from './population-schema.js';
import { actorId, modelField, ms, positiveInt, PretrainSchema, ProfileSchema, TrainingSchema } from './party-schema.js';
import { AsyncProtocolFields, checkProtocolMode } from './async-protocol.js';

const ServerSchema = z
  .object({
    id: z.literal('server').default('server'),
    model: modelField,
    tokenizer: TokenizerFieldSchema.default('gpt2'),
    pretrain: PretrainSchema.optional(),
    training: TrainingSchema.default(TrainingSchema.parse({})),
    profile: ProfileSchema.default(ProfileSchema.parse({})),
  })
  .strict();

const ClientSchema = z
  .object({
    id: actorId.refine((id) => id !== 'server', 'the id "server" is reserved'),
    model: modelField,
    tokenizer: TokenizerFieldSchema.default('gpt2'),
    /** Private shard index; defaults to the client's position in the list. */
    shard: z.number().int().nonnegative().optional(),
    pretrain: PretrainSchema.optional(),
    training: TrainingSchema.default(TrainingSchema.parse({})),
    profile: ProfileSchema.default(ProfileSchema.parse({})),
  })
  .strict();

const TaskSchema = z
  .object({
    /** `builtin` (generated, no download) or a real task name. */
    name: z.string().min(1).default('builtin'),
    /** A dataset file or folder for real tasks (default: ../shared/datasets/<name>). */
    path: z.string().optional(),
    privateSamplesPerClient: positiveInt.default(128),
    publicSamples: positiveInt.default(64),
    testSamples: positiveInt.default(120),
    split: z.enum(['iid', 'domain', 'dirichlet']).default('iid'),
    /** Non-IID `domain` split: share of a client's shard drawn from other domains. */
    otherDomainShare: z.number().min(0).max(1).default(0.1),
    dirichletAlpha: z.number().positive().default(0.5),
    /** Real tasks shipped as one file (rte, wic, commonsenseqa, boolq, dialogsum): held-out evaluation share (default 0.2). */
    evalFraction: z.number().gt(0).lt(1).optional(),
    /** Generation tasks (dialogsum): most tokens generated per evaluation prompt (greedy). */
    maxNewTokens: positiveInt.default(24),
  })
  .strict();

const UploadPolicySchema = z
  .object({
    /** How long the server waits for SLM uploads after announcing a round. */
    deadlineMs: ms.default(600_000),
    /** Uploads needed to proceed at the deadline: a count (>= 1) or a fraction of clients (< 1). */
    quorum: z.number().positive().default(1),
    /** Below quorum at the deadline: skip this round, or abort the run. */
    onQuorumLost: z.enum(['skip-round', 'abort']).default('skip-round'),
    /**
     * Uploads of an earlier round: `drop` them (recorded as ignored, the default), or
     * `{ acceptWithinRounds: n }`: an upload of round r reaching the server while it collects
     * round r+k, k <= n, counts toward round r+k as that client's upload if it has none.
     */
    lateMessages: z
      .union([z.literal('drop', { error: 'expected "drop" or { acceptWithinRounds: n }' }), z.object({ acceptWithinRounds: positiveInt }).strict()], {
        error: 'expected "drop" or { acceptWithinRounds: n }',
      })
      .default('drop'),
  })
  .strict();

const LlmLogitsPolicySchema = z
  .object({
    /** How long a client waits for the LLM's logits after uploading its own. */
    deadlineMs: ms.default(1_800_000),
    /** When they never come: distil from itself only, or skip distillation this round. */
    onMissing: z.enum(['self-distil', 'skip']).default('self-distil'),
  })
  .strict();

/**
 * The end of a run: the server announces the finish again to clients that have not acknowledged
 * it, every `retryMs`, `attempts` times in all, so a client up at the end learns of it even when
 * announcements are lost (it ends at most attempts x retryMs after the first announcement).
 */
const FinishPolicySchema = z
  .object({
    retryMs: ms.refine((v) => v > 0, 'expected a positive number of milliseconds').default(10_000),
    attempts: positiveInt.default(6),
  })
  .strict();

export const ProtocolSchema = z
  .object({
    topK: positiveInt.default(16),
    kdAlpha: z.number().min(0).max(1).default(0.9),
    temperature: z.number().positive().default(1),
    /** Alignment fallback where no one-to-one match exists (see FEDMKT.md). */
    alignmentFallback: z.enum(['next-token', 'none', 'reference']).default('next-token'),
    /** Homogeneous setting: average the clients' LoRA adapters after step 8. */
    fedAvg: z.boolean().default(false),
    /** LLM2SLM variant: the LLM is never updated and its logits are sent once. */
    llmFrozen: z.boolean().default(false),
    /** How top-K logits travel (core/protocol/logit-encodings.ts): exact float32, float16, or 8-bit quantised log-probabilities. */
    logitEncoding: z.enum(['f32', 'f16', 'q8']).default('f32'),
    awaitSLMLogits: UploadPolicySchema.default(UploadPolicySchema.parse({})),
    awaitLLMLogits: LlmLogitsPolicySchema.default(LlmLogitsPolicySchema.parse({})),
    finish: FinishPolicySchema.default(FinishPolicySchema.parse({})),
    /** A client that hears nothing from the server this long declares it gone. */
    serverSilenceMs: ms.default(7_200_000),
    /** Largest accepted message, in bytes. */
    maxMessageBytes: positiveInt.default(512 * 1024 * 1024),
    /** sync (the paper's round), buffered or async, with bufferSize, staleness and timeBudgetMs (core/scenario/async-protocol.ts). */
    ...AsyncProtocolFields,
  })
  .strict();

export const ScenarioSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ or -'),
    description: z.string().optional(),
    seed: z.number().int().nonnegative().default(0),
    rounds: positiveInt,
    task: TaskSchema.default(TaskSchema.parse({})),
    protocol: ProtocolSchema.default(ProtocolSchema.parse({})),
    server: ServerSchema,
    /** The clients, listed; or a `population` to draw them from. */
    clients: z.array(ClientSchema).default([]),
    population: PopulationSchema.optional(),
    /** Which of the population take part in each round (default: all). */
    selection: SelectionSchema.optional(),
    /** Injected faults (docs/faults.md); none by default. */
    faults: FaultsSchema.default(DEFAULT_FAULTS),
  })
  .strict()
  .superRefine((s, ctx) => {
    checkFaultRefs(s, ctx);
    checkProtocolMode(s.protocol, s.clients.length, ctx);
    const seen = new Map<string, number>();
    s.clients.forEach((c, i) => {
      const first = seen.get(c.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['clients', i, 'id'], message: `duplicate client id "${c.id}" (also clients[${first}])` });
      seen.set(c.id, i);
    });
    checkParties(s, ctx);
  });

type ParsedScenario = z.infer<typeof ScenarioSchema>;

/** Clients listed or a population (not both), every party's model null or none's, a quorum the round can reach. */
function checkParties(s: ParsedScenario, ctx: z.core.$RefinementCtx<ParsedScenario>): void {
  const { population, selection } = s;
  if (population && s.clients.length > 0) ctx.addIssue({ code: 'custom', path: ['population'], message: 'expected clients listed or a population, not both' });
  if (!population && s.clients.length === 0) ctx.addIssue({ code: 'custom', path: ['clients'], message: 'expected at least one client (or a population)' });
  if (population && s.protocol.mode !== 'sync')
    ctx.addIssue({ code: 'custom', path: ['protocol', 'mode'], message: `a population runs the paper's synchronous rounds, not ${s.protocol.mode}` });
  if (population && s.faults.stragglers)
    ctx.addIssue({
      code: 'custom',
      path: ['faults', 'stragglers'],
      message: "applies to listed clients; a population's speeds come from its templates' profiles and population.capacity",
    });
  if (selection && !population)
    ctx.addIssue({ code: 'custom', path: ['selection'], message: 'selection chooses among a population: add population (or drop selection)' });
  if (selection && (selection.perRound === undefined) === (selection.fraction === undefined))
    ctx.addIssue({ code: 'custom', path: ['selection'], message: 'expected one of perRound or fraction' });
  if (population && selection?.perRound !== undefined && selection.perRound > population.count)
    ctx.addIssue({
      code: 'custom',
      path: ['selection', 'perRound'],
      message: `expected at most population.count (${population.count}), got ${selection.perRound}`,
    });
  const parties = population
    ? population.clients.map((c, i) => ({ model: c.model, path: ['population', 'clients', i, 'model'] }))
    : s.clients.map((c, i) => ({ model: c.model, path: ['clients', i, 'model'] }));
  const nulls = parties.filter((p) => p.model === null).length + (s.server.model === null ? 1 : 0);
  if (nulls > 0 && nulls <= parties.length)
    ctx.addIssue({
      code: 'custom',
      path: s.server.model === null ? parties.find((p) => p.model !== null)!.path : ['server', 'model'],
      message: "model: null (the protocol alone, no learning) must be every party's model or none's",
    });
  const perRound = population ? perRoundOf(population, selection) : s.clients.length;
  const q = s.protocol.awaitSLMLogits.quorum;
  if (perRound > 0 && q >= 1 && (!Number.isInteger(q) || q > perRound))
    ctx.addIssue({
      code: 'custom',
      path: ['protocol', 'awaitSLMLogits', 'quorum'],
      message: `expected a fraction below 1 or a whole count of at most ${perRound} ${population ? 'uploads per round' : 'clients'}, got ${q}`,
    });
}

export type Scenario = ParsedScenario;
export type ClientConfig = z.infer<typeof ClientSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type Profile = z.infer<typeof ProfileSchema>;
export type PretrainConfig = z.infer<typeof PretrainSchema>;

/** Every party is `model: null`: the run exercises the protocol alone. */
export function isProtocolOnly(scenario: Scenario): boolean {
  return scenario.server.model === null;
}

/**
 * Virtual time after which a run that has not ended never will: ten times every deadline of
 * every round, the finish's announcements and a client's wait for a silent server, together.
 */
export function neverEndsAfterMs(scenario: Scenario): number {
  const p = scenario.protocol;
  const perRound = 2 * p.awaitSLMLogits.deadlineMs + p.awaitLLMLogits.deadlineMs;
  return 10 * (scenario.rounds * perRound + p.finish.retryMs * p.finish.attempts + p.serverSilenceMs);
}

/** Uploads the server needs to proceed at its deadline. */
export function quorumCount(scenario: Scenario): number {
  const q = scenario.protocol.awaitSLMLogits.quorum;
  const perRound = scenario.population ? perRoundOf(scenario.population, scenario.selection) : scenario.clients.length;
  return q >= 1 ? q : Math.max(1, Math.ceil(q * perRound));
}

/** Rounds within which a late upload still counts (0: late uploads are dropped). */
export function lateAcceptWithinRounds(scenario: Scenario): number {
  const late = scenario.protocol.awaitSLMLogits.lateMessages;
  return late === 'drop' ? 0 : late.acceptWithinRounds;
}

/** `3 clients`, or `a population of 100000 (1000 per round)`: who takes part, in words. */
export function partiesText(scenario: Scenario): string {
  const { population, selection } = scenario;
  if (!population) return plural(scenario.clients.length, 'client');
  return `a population of ${population.count} clients (${perRoundOf(population, selection)} uploads per round)`;
}
