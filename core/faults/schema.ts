/**
 * The `faults` section of a scenario: client behaviour faults (dropout, stragglers, crashes)
 * and message faults (drop, delay, duplicate, reorder, corrupt, partitions). Every random
 * decision they imply is drawn from `Random.stream(seed, 'faults/...')`; docs/faults.md
 * describes each field and its default.
 */
import { z } from 'zod';
import { MESSAGE_TYPES, type MessageType } from '../protocol/messages.js';
import { CLIENT_STATES, SERVER_STATES } from './states.js';

const ms = z.number({ error: 'expected milliseconds (a number >= 0)' }).nonnegative('expected milliseconds (a number >= 0)');
const positiveInt = z.number({ error: 'expected a positive integer' }).int('expected a positive integer').positive('expected a positive integer');
const round = z.number({ error: 'expected a round number' }).int('expected a round number').nonnegative('expected a round number (>= 0)');
const probability = z
  .number({ error: 'expected a probability in [0, 1]' })
  .min(0, 'expected a probability in [0, 1]')
  .max(1, 'expected a probability in [0, 1]');
const actorRef = z.string({ error: 'expected an actor id' }).min(1, 'expected an actor id');
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1, 'expected at least one entry')]);

/** A round, a list of rounds, or an inclusive range `{ from, to }`. */
const RoundSelectorSchema = z.union([
  round,
  z.array(round).min(1, 'expected at least one round'),
  z.object({ from: round.optional(), to: round.optional() }).strict(),
]);
export type RoundSelector = z.infer<typeof RoundSelectorSchema>;

export function roundMatches(selector: RoundSelector | undefined, r: number): boolean {
  if (selector === undefined) return true;
  if (typeof selector === 'number') return selector === r;
  if (Array.isArray(selector)) return selector.includes(r);
  return (selector.from === undefined || r >= selector.from) && (selector.to === undefined || r <= selector.to);
}

const MESSAGE_ACTIONS = ['drop', 'delay', 'duplicate', 'reorder', 'corrupt'] as const;
type MessageAction = (typeof MESSAGE_ACTIONS)[number];

/** Parameters each action takes (anything else is refused, with its place). */
const ACTION_PARAMS: Record<MessageAction, readonly string[]> = {
  drop: [],
  delay: ['ms', 'jitterMs'],
  duplicate: ['copies', 'gapMs'],
  reorder: ['maxHoldMs'],
  corrupt: ['bytes'],
};
const ALL_PARAMS = ['ms', 'jitterMs', 'copies', 'gapMs', 'maxHoldMs', 'bytes'] as const;

/**
 * One message rule: which messages (selectors, all optional: absent = any) and what happens to
 * them on their way to each receiver, with probability `p`, at most `limit` times.
 */
const MessageRuleSchema = z
  .object({
    action: z.enum(MESSAGE_ACTIONS, { error: `expected one of ${MESSAGE_ACTIONS.join(', ')}` }),
    /** Message types (`slm-logits`, `llm-logits`, `round-start`, `adapter`, `adapter-average`, `finish`). */
    type: oneOrMany(z.enum(MESSAGE_TYPES as [MessageType, ...MessageType[]], { error: `expected a message type: ${MESSAGE_TYPES.join(', ')}` })).optional(),
    /** Sender ids. */
    from: oneOrMany(actorRef).optional(),
    /** Receiver ids. */
    to: oneOrMany(actorRef).optional(),
    /** The message's round. */
    round: RoundSelectorSchema.optional(),
    /** The receiver's state when the message reaches it. */
    state: oneOrMany(z.string()).optional(),
    p: probability.default(1),
    /** Apply at most this many times (per rule, over the run). */
    limit: positiveInt.optional(),
    /** Only the nth message (1-based) the selectors match, per rule over the run (reproducers name one message so). */
    nth: positiveInt.optional(),
    /** delay: fixed extra transit time, plus a uniform draw in [0, jitterMs). */
    ms: ms.optional(),
    jitterMs: ms.optional(),
    /** duplicate: extra copies, each `gapMs` after the previous one. */
    copies: positiveInt.optional(),
    gapMs: ms.optional(),
    /** reorder: the message waits for the receiver's next message and arrives after it (at most maxHoldMs). */
    maxHoldMs: ms.optional(),
    /** corrupt: bytes flipped at seeded positions. */
    bytes: positiveInt.optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    for (const key of ALL_PARAMS) {
      if (rule[key] !== undefined && !ACTION_PARAMS[rule.action].includes(key))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `"${key}" is not a parameter of ${rule.action} (it takes ${ACTION_PARAMS[rule.action].join(', ') || 'none'})`,
        });
    }
    if (rule.action === 'delay' && rule.ms === undefined && rule.jitterMs === undefined)
      ctx.addIssue({ code: 'custom', path: ['ms'], message: 'delay needs ms (and/or jitterMs)' });
  });
export type MessageRule = z.infer<typeof MessageRuleSchema>;

/** A set of actors cut off from everyone else between two clock times (ms from the run's start). */
const PartitionSchema = z
  .object({
    actors: z.array(actorRef).min(1, 'expected at least one actor'),
    fromMs: ms,
    toMs: ms,
  })
  .strict()
  .refine((p) => p.toMs > p.fromMs, { path: ['toMs'], message: 'expected toMs after fromMs' });
export type Partition = z.infer<typeof PartitionSchema>;

/** Crash of one actor (server included) when it enters `state` in `round`; restarted from its persisted state. */
const CrashSchema = z
  .object({
    actor: actorRef,
    round,
    state: z.string(),
    /** Crash this long after the actor entered the state (default at once). */
    afterMs: ms.default(0),
    /** Restart this long after the crash; `never` keeps it down. */
    restartAfterMs: z.union([ms, z.literal('never')], { error: 'expected milliseconds or "never"' }).default(1000),
    /** On the nth entry into that state in that round (an actor back from a crash enters it again). */
    nth: positiveInt.default(1),
  })
  .strict();

/** A scripted dropout: `client` leaves in `round` while in `state`, and rejoins when `rejoinRound` is announced. */
const ScriptedDropoutSchema = z
  .object({
    client: actorRef,
    round,
    state: z.string().default('trainPrivate'),
    /** Absent: never comes back. */
    rejoinRound: positiveInt.optional(),
    /** On the nth entry into that state in that round. */
    nth: positiveInt.default(1),
  })
  .strict()
  .refine((d) => d.rejoinRound === undefined || d.rejoinRound > d.round, { path: ['rejoinRound'], message: 'expected a round after the one it leaves in' });

const DropoutSchema = z
  .object({
    /** Probability that a client drops, per client per round. */
    p: probability.default(0),
    /** Where in the round a drawn client leaves. */
    state: z.string().default('trainPrivate'),
    /** A client that left in round r rejoins when round r + rejoinAfterRounds is announced. */
    rejoinAfterRounds: positiveInt.default(1),
    /** Clients that may drop (default all). */
    clients: z.array(actorRef).min(1).optional(),
    /** Rounds in which they may (default all). */
    rounds: RoundSelectorSchema.optional(),
    script: z.array(ScriptedDropoutSchema).default([]),
  })
  .strict();

const DISTRIBUTIONS = ['constant', 'uniform', 'lognormal', 'pareto', 'exponential'] as const;
const DIST_PARAMS: Record<(typeof DISTRIBUTIONS)[number], readonly string[]> = {
  constant: ['value'],
  uniform: ['min', 'max'],
  lognormal: ['mu', 'sigma'],
  pareto: ['scale', 'alpha'],
  exponential: ['mean'],
};

/** A positive multiplier's distribution. lognormal: exp(mu + sigma·N(0,1)); pareto: scale / U^(1/alpha). */
const DistributionSchema = z
  .object({
    dist: z.enum(DISTRIBUTIONS, { error: `expected one of ${DISTRIBUTIONS.join(', ')}` }),
    value: z.number().positive().optional(),
    min: z.number().positive().optional(),
    max: z.number().positive().optional(),
    mu: z.number().optional(),
    sigma: z.number().nonnegative().optional(),
    scale: z.number().positive().optional(),
    alpha: z.number().positive().optional(),
    mean: z.number().positive().optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    const takes = DIST_PARAMS[d.dist];
    for (const key of ['value', 'min', 'max', 'mu', 'sigma', 'scale', 'alpha', 'mean'] as const) {
      if (d[key] !== undefined && !takes.includes(key))
        ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is not a parameter of ${d.dist} (it takes ${takes.join(', ')})` });
    }
    const need = (key: 'value' | 'min' | 'max' | 'sigma' | 'alpha' | 'mean') => {
      if (d[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${d.dist} needs ${key}` });
    };
    if (d.dist === 'constant') need('value');
    if (d.dist === 'uniform') {
      need('min');
      need('max');
      if (d.min !== undefined && d.max !== undefined && d.max < d.min) ctx.addIssue({ code: 'custom', path: ['max'], message: 'expected max >= min' });
    }
    if (d.dist === 'lognormal') need('sigma');
    if (d.dist === 'pareto') need('alpha');
    if (d.dist === 'exponential') need('mean');
  });
export type Distribution = z.infer<typeof DistributionSchema>;

/** One row of a straggler trace: a client's figures (for one round, or every round). */
export const TraceRowSchema = z
  .object({
    client: actorRef,
    round: round.optional(),
    /** Multiplier on the profile's msPerTrainSample and msPerAlignSample. */
    computeFactor: z.number().positive().optional(),
    msPerTrainSample: z.number().nonnegative().optional(),
    bandwidthMbps: z.number().positive().optional(),
    latencyMs: ms.optional(),
  })
  .strict();
export type TraceRow = z.infer<typeof TraceRowSchema>;

const StragglersSchema = z
  .object({
    /** Multiplier on each client's compute time (msPerTrainSample, msPerAlignSample). */
    compute: DistributionSchema.optional(),
    /** Multiplier on each client's bandwidth (below 1: a slower link). */
    bandwidth: DistributionSchema.optional(),
    /** Multiplier on each client's latency. */
    latency: DistributionSchema.optional(),
    /** Draw the compute multiplier again every round (default: once per client). */
    perRound: z.boolean().default(false),
    /** Clients affected (default all). */
    clients: z.array(actorRef).min(1).optional(),
    /** Per-client figures over the drawn ones; a row with a round sets that round's compute only (links take rows without one). */
    trace: z.array(TraceRowSchema).default([]),
    /** A CSV (header: client,round,computeFactor,msPerTrainSample,bandwidthMbps,latencyMs) or YAML/JSON list of rows, read at run start and inlined into the run's scenario.yaml. */
    traceFile: z.string().optional(),
  })
  .strict();
export type Stragglers = z.infer<typeof StragglersSchema>;

export const FaultsSchema = z
  .object({
    dropout: DropoutSchema.default(DropoutSchema.parse({})),
    stragglers: StragglersSchema.optional(),
    crashes: z.array(CrashSchema).default([]),
    messages: z.array(MessageRuleSchema).default([]),
    partitions: z.array(PartitionSchema).default([]),
    /** Where actors persist what they need to resume: memory, or also RUN_DIR/state/<actor>/. */
    persist: z.enum(['memory', 'disk']).default('memory'),
  })
  .strict();
export type Faults = z.infer<typeof FaultsSchema>;

export const DEFAULT_FAULTS: Faults = FaultsSchema.parse({});

interface RefContext {
  addIssue(issue: { code: 'custom'; path: PropertyKey[]; message: string }): void;
}

/** Checks that faults name actors, states and rounds the scenario has. */
export function checkFaultRefs(
  scenario: { rounds: number; clients: { id: string }[]; faults: Faults; population?: { count: number; idPrefix: string } | undefined },
  ctx: RefContext,
): void {
  const clients = idsOf(
    scenario.clients.map((c) => c.id),
    scenario.population,
  );
  const actors = idsOf(['server', ...scenario.clients.map((c) => c.id)], scenario.population);
  const base = ['faults'];
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path: [...base, ...path], message });
  const known = (ids: ActorIds, what: string) => (id: string, path: PropertyKey[]) => {
    if (!ids.has(id)) issue(path, `unknown ${what} "${id}" (the scenario has ${ids.text})`);
  };
  const knownActor = known(actors, 'actor');
  const knownClient = known(clients, 'client');
  const stateOf = (role: 'server' | 'client', state: string, path: PropertyKey[]) => {
    const states: readonly string[] = role === 'server' ? SERVER_STATES : CLIENT_STATES;
    if (!states.includes(state)) issue(path, `"${state}" is not a ${role} state an actor can be seen in; expected one of ${states.join(', ')}`);
  };
  const roundIn = (r: number, path: PropertyKey[]) => {
    if (r > scenario.rounds) issue(path, `round ${r} is after the last round (${scenario.rounds})`);
  };
  const { faults } = scenario;
  faults.crashes.forEach((c, i) => {
    knownActor(c.actor, ['crashes', i, 'actor']);
    if (actors.has(c.actor)) stateOf(c.actor === 'server' ? 'server' : 'client', c.state, ['crashes', i, 'state']);
    roundIn(c.round, ['crashes', i, 'round']);
  });
  stateOf('client', faults.dropout.state, ['dropout', 'state']);
  faults.dropout.clients?.forEach((c, i) => knownClient(c, ['dropout', 'clients', i]));
  faults.dropout.script.forEach((d, i) => {
    knownClient(d.client, ['dropout', 'script', i, 'client']);
    stateOf('client', d.state, ['dropout', 'script', i, 'state']);
    roundIn(d.round, ['dropout', 'script', i, 'round']);
  });
  faults.stragglers?.clients?.forEach((c, i) => knownClient(c, ['stragglers', 'clients', i]));
  faults.stragglers?.trace.forEach((row, i) => knownClient(row.client, ['stragglers', 'trace', i, 'client']));
  faults.messages.forEach((rule, i) => {
    for (const key of ['from', 'to'] as const) {
      const v = rule[key];
      if (v === undefined) continue;
      (Array.isArray(v) ? v : [v]).forEach((id, j) => knownActor(id, Array.isArray(v) ? ['messages', i, key, j] : ['messages', i, key]));
    }
    if (rule.state !== undefined) {
      const all = new Set<string>([...SERVER_STATES, ...CLIENT_STATES]);
      (Array.isArray(rule.state) ? rule.state : [rule.state]).forEach((s, j) => {
        if (!all.has(s))
          issue(Array.isArray(rule.state) ? ['messages', i, 'state', j] : ['messages', i, 'state'], `"${s}" is not a state an actor can be seen in`);
      });
    }
  });
  faults.partitions.forEach((p, i) => p.actors.forEach((a, j) => knownActor(a, ['partitions', i, 'actors', j])));
}

/** The longest the message rules can hold a message up on its way: delays add up, then a reorder hold or a duplicate's gap. */
export function longestMessageHoldMs(rules: readonly MessageRule[]): number {
  let delays = 0;
  let after = 0;
  for (const r of rules) {
    if (r.action === 'delay') delays += (r.ms ?? 0) + (r.jitterMs ?? 0);
    if (r.action === 'reorder') after = Math.max(after, r.maxHoldMs ?? 60_000);
    if (r.action === 'duplicate') after = Math.max(after, (r.gapMs ?? 0) * (r.copies ?? 1));
  }
  return delays + after;
}

/** Whether the scenario can take an actor down and bring it back (persistence is then on). */
export function faultsRestartActors(faults: Faults): boolean {
  return faults.crashes.length > 0 || faults.dropout.p > 0 || faults.dropout.script.length > 0 || faults.persist === 'disk';
}

interface ActorIds {
  has(id: string): boolean;
  text: string;
}

/** Listed ids, and a population's (`c0` ... `c<count-1>`). */
function idsOf(listed: readonly string[], population: { count: number; idPrefix: string } | undefined): ActorIds {
  const set = new Set(listed);
  if (!population) return { has: (id) => set.has(id), text: listed.join(', ') };
  const pattern = new RegExp(`^${population.idPrefix}(0|[1-9][0-9]*)$`);
  const member = (id: string) => {
    const m = pattern.exec(id);
    return m !== null && Number(m[1]) < population.count;
  };
  return { has: (id) => set.has(id) || member(id), text: [...listed, `${population.idPrefix}0 ... ${population.idPrefix}${population.count - 1}`].join(', ') };
}
