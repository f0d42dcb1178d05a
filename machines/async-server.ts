/**
 * The server of buffered and asynchronous FedMKT (docs/async.md) as an XState machine. No
 * barrier: uploads arrive whenever clients finish, each tagged with the LLM version it was made
 * against; whenever `bufferSize` are buffered (1 in async mode) the server aligns them (step 3),
 * distils from them (step 4, stale teachers discounted by the actor's weighting), computes and
 * publishes the next LLM version (steps 5, 6). The run ends after `totalRounds` versions (each a
 * round in metrics), or at the time budget. Pure, like machines/server.ts: work comes through
 * `provide`, messages as events, every decision is emitted.
 */
import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { AlignedTeacher } from '../core/alignment/aligned-teacher.js';
import type { ActorId, PublicLogits } from '../core/protocol/messages.js';
import type { FinishAckEvent, IgnoreReason, ProtocolRecord, SlmLogitsEvent } from './protocol-events.js';
import { failWith as failStep } from './work-failure.js';

interface AsyncServerPolicy {
  /** Uploads that make a version: the number of clients or fewer (buffered), 1 (async). */
  bufferSize: number;
  /** Uploads more than this many versions behind are dropped. */
  maxStaleness: number;
  /** A buffer not full this long after the server began to wait: distil what is in it, or, if nothing, let the version go. */
  uploadDeadlineMs: number;
  /** The run ends this long after the first version is asked for, whatever version it reached (none: only `totalRounds` ends it). */
  timeBudgetMs: number | null;
  finishRetryMs: number;
  finishAttempts: number;
}

export interface AsyncServerInput {
  /** LLM versions to publish (the scenario's `rounds`). */
  totalRounds: number;
  clients: ActorId[];
  policy: AsyncServerPolicy;
}

/** An accepted SLM upload: `version` is the LLM version it was made against. */
export interface BufferedUpload {
  client: ActorId;
  messageId: string;
  version: number;
  logits: PublicLogits;
}

/** An upload as it teaches one version: versions behind (at distillation) and its teacher. */
interface UsedUpload extends Omit<BufferedUpload, 'logits'> {
  staleness: number;
}

export interface AsyncServerContext extends AsyncServerInput {
  /** The version being made (metrics' round); `round - 1` is the latest published. */
  round: number;
  /** Accepted uploads not yet used. */
  buffer: BufferedUpload[];
  /** The uploads making this version, in `clients` order, with their staleness. */
  batch: (BufferedUpload & { staleness: number })[];
  /** Ids of every upload used so far: an upload teaches one version at most. */
  usedIds: string[];
  slmTeachers: { client: ActorId; teacher: AlignedTeacher }[];
  llmLogits: PublicLogits | null;
  /** Deadlines passed with nothing buffered: versions that will not come (they count toward the end). */
  skippedVersions: number;
  finishAcks: ActorId[];
  finishAnnouncements: number;
  /** Why the run ended before its versions (time budget), or failed. */
  endReason: string | null;
  failure: string | null;
}

export type AsyncServerEvent = SlmLogitsEvent | FinishAckEvent;

/** Records beyond the sync server's: each upload as it is used for a version. */
export type AsyncServerRecord =
  | ProtocolRecord
  | ({ type: 'used'; round: number; message: 'slm-logits'; sender: ActorId; msgRound: number } & Pick<UsedUpload, 'messageId' | 'staleness'>);

type WorkInput = { round: number };
type SlmTeacher = { client: ActorId; teacher: AlignedTeacher };

/** The work the actor layer supplies (actors/async-server-actor.ts). */
export interface AsyncServerWork {
  /** Step 3: align each upload to the LLM's tokens. */
  alignSLMTokens(input: WorkInput & { uploads: { client: ActorId; logits: PublicLogits }[] }): Promise<{ teachers: SlmTeacher[] }>;
  /** Step 4: DualMinCE over {LLM, aligned SLMs}, each SLM ranked by its CE over its staleness weight. */
  distillFromSLMs(input: WorkInput & { slmTeachers: SlmTeacher[]; staleness: number[] }): Promise<{ loss: number }>;
  /** Step 5. */
  computeLLMLogits(input: WorkInput): Promise<{ logits: PublicLogits }>;
  /** Step 6: publish version `round` to every client. */
  broadcastLLMLogits(input: WorkInput & { logits: PublicLogits }): Promise<void>;
  announceFinish(input: WorkInput & { reason: 'completed' | 'aborted'; detail: string }): Promise<void>;
  /** Measurement: version `round` (0: the zero-shot LLM). */
  evaluate(input: WorkInput): Promise<void>;
}

function notProvided<K extends keyof AsyncServerWork>(name: K) {
  return fromPromise<Awaited<ReturnType<AsyncServerWork[K]>>, Parameters<AsyncServerWork[K]>[0]>(async () => {
    throw new Error(`async server work "${name}" was not provided: supply it with asyncServerMachine.provide({ actors })`);
  });
}

const failWith = (step: string) => failStep<AsyncServerContext, AsyncServerEvent>(step);
const published = (context: AsyncServerContext) => context.round - 1;

export const asyncServerMachine = setup({
  types: {
    context: {} as AsyncServerContext,
    events: {} as AsyncServerEvent,
    input: {} as AsyncServerInput,
    emitted: {} as AsyncServerRecord,
  },
  actors: {
    alignSLMTokens: notProvided('alignSLMTokens'),
    distillFromSLMs: notProvided('distillFromSLMs'),
    computeLLMLogits: notProvided('computeLLMLogits'),
    broadcastLLMLogits: notProvided('broadcastLLMLogits'),
    announceFinish: notProvided('announceFinish'),
    evaluate: notProvided('evaluate'),
  },
  delays: {
    uploadDeadline: ({ context }) => context.policy.uploadDeadlineMs,
    // Without a budget the delay is never reached: the run ends by its versions first.
    timeBudget: ({ context }) => context.policy.timeBudgetMs ?? Number.MAX_SAFE_INTEGER,
    finishRetry: ({ context }) => context.policy.finishRetryMs,
  },
  guards: {
    bufferFull: ({ context }) => context.buffer.length >= context.policy.bufferSize,
    anyBuffered: ({ context }) => context.buffer.length > 0,
    hasTimeBudget: ({ context }) => context.policy.timeBudgetMs !== null,
    /** Every version is published, or given up at its deadline. */
    versionsDone: ({ context }) => published(context) + context.skippedVersions >= context.totalRounds,
    allFinishAcked: ({ context }) => context.clients.every((c) => context.finishAcks.includes(c)),
    finishAttemptsLeft: ({ context }) => context.finishAnnouncements < context.policy.finishAttempts,
    batchEmpty: ({ context }) => context.batch.length === 0,
  },
  actions: {
    /** An upload joins the buffer unless unknown, already seen, from the future, or too stale. */
    takeUpload: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SLM_LOGITS') return;
      const reason = rejectReason(context, event);
      if (reason) {
        enqueue.emit(ignored(context, event, reason));
        return;
      }
      // A client's newer upload replaces its older one still waiting: the newer one is what it knows now.
      const older = context.buffer.find((u) => u.client === event.sender);
      if (older)
        enqueue.emit({
          type: 'ignored',
          round: older.version,
          atRound: context.round,
          messageId: older.messageId,
          sender: older.client,
          message: 'slm-logits',
          reason: 'late',
        });
      const upload = { client: event.sender, messageId: event.messageId, version: event.round, logits: event.logits };
      enqueue.assign({ buffer: [...context.buffer.filter((u) => u.client !== event.sender), upload] });
      enqueue.emit({ type: 'accepted', round: context.round, messageId: event.messageId, sender: event.sender, message: 'slm-logits' });
    }),
    /** The buffer becomes this version's batch; an upload that went past the bound while waiting is dropped. */
    takeBatch: enqueueActions(({ context, enqueue }) => {
      const order = (u: BufferedUpload) => context.clients.indexOf(u.client);
      const batch = [...context.buffer].sort((a, b) => order(a) - order(b)).map((u) => ({ ...u, staleness: published(context) - u.version }));
      for (const u of batch.filter((b) => b.staleness > context.policy.maxStaleness))
        enqueue.emit({
          type: 'ignored',
          round: u.version,
          atRound: context.round,
          messageId: u.messageId,
          sender: u.client,
          message: 'slm-logits',
          reason: 'late',
        });
      const kept = batch.filter((b) => b.staleness <= context.policy.maxStaleness);
      enqueue.assign({ buffer: [], batch: kept, usedIds: [...context.usedIds, ...kept.map((u) => u.messageId)] });
    }),
    /** Version `round` is out: each upload that made it is recorded as used, with its staleness. */
    recordUsed: enqueueActions(({ context, enqueue }) => {
      for (const u of context.batch)
        enqueue.emit({
          type: 'used',
          round: context.round,
          message: 'slm-logits',
          sender: u.client,
          messageId: u.messageId,
          msgRound: u.version,
          staleness: u.staleness,
        });
    }),
    openNextVersion: assign(({ context }) => ({ round: context.round + 1, batch: [], slmTeachers: [], llmLogits: null })),
    skipVersion: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ skippedVersions: context.skippedVersions + 1 });
      enqueue.emit({ type: 'deadline', round: context.round, state: 'awaitSLMLogits', action: 'no-uploads' });
    }),
    takeFinishAck: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'FINISH_ACK') return;
      const known = context.clients.includes(event.sender);
      if (!known || context.finishAcks.includes(event.sender)) {
        enqueue.emit(ignored(context, event, known ? 'duplicate' : 'unknown-sender', 'finish-ack'));
        return;
      }
      enqueue.assign({ finishAcks: [...context.finishAcks, event.sender] });
      enqueue.emit({ type: 'accepted', round: event.round, messageId: event.messageId, sender: event.sender, message: 'finish-ack' });
    }),
    countFinishAnnouncement: assign({ finishAnnouncements: ({ context }) => context.finishAnnouncements + 1 }),
    giveUpOnFinishAcks: emit(({ context }) => ({
      type: 'deadline' as const,
      round: context.round,
      state: 'awaitFinishAcks',
      action: 'end-unacknowledged',
      missing: context.clients.filter((c) => !context.finishAcks.includes(c)),
    })),
    ignoreUpload: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'SLM_LOGITS') enqueue.emit(ignored(context, event, context.clients.includes(event.sender) ? 'late' : 'unknown-sender'));
    }),
  },
}).createMachine({
  id: 'asyncServer',
  context: ({ input }) => ({
    ...input,
    round: 0,
    buffer: [],
    batch: [],
    usedIds: [],
    slmTeachers: [],
    llmLogits: null,
    skippedVersions: 0,
    finishAcks: [],
    finishAnnouncements: 0,
    endReason: null,
    failure: null,
  }),
  initial: 'evaluateZeroShot',
  on: {
    // After the last version (finishing, acknowledgements) uploads change nothing.
    SLM_LOGITS: { actions: 'ignoreUpload' },
    FINISH_ACK: { actions: 'takeFinishAck' },
  },
  states: {
    evaluateZeroShot: {
      invoke: {
        id: 'evaluate',
        src: 'evaluate',
        input: () => ({ round: 0 }),
        onDone: { target: 'round', actions: 'openNextVersion' },
        onError: { target: 'failed', actions: failWith('evaluate') },
      },
    },
    /** Every version, one after another; uploads are buffered in every step of it. */
    round: {
      initial: 'awaitSLMLogits',
      on: { SLM_LOGITS: { actions: 'takeUpload' } },
      after: {
        timeBudget: {
          guard: 'hasTimeBudget',
          target: 'finishing',
          actions: [
            assign({ endReason: ({ context }) => `time budget of ${context.policy.timeBudgetMs} ms spent at version ${published(context)}` }),
            emit(({ context }) => ({ type: 'deadline' as const, round: context.round, state: 'round', action: 'time-budget' })),
          ],
        },
      },
      states: {
        awaitSLMLogits: {
          always: [
            { guard: 'versionsDone', target: '#asyncServer.finishing' },
            { guard: 'bufferFull', target: 'batchTaken', actions: 'takeBatch' },
          ],
          after: {
            uploadDeadline: [
              { guard: 'anyBuffered', target: 'batchTaken', actions: ['takeBatch', emit(({ context }) => partialBuffer(context))] },
              { target: 'awaitSLMLogits', reenter: true, actions: 'skipVersion' },
            ],
          },
        },
        /** Every buffered upload may have gone too stale while it waited: then wait for fresher ones. */
        batchTaken: {
          always: [{ guard: 'batchEmpty', target: 'awaitSLMLogits' }, { target: 'alignSLMTokens' }],
        },
        alignSLMTokens: {
          invoke: {
            id: 'alignSLMTokens',
            src: 'alignSLMTokens',
            input: ({ context }) => ({ round: context.round, uploads: context.batch.map((u) => ({ client: u.client, logits: u.logits })) }),
            onDone: { target: 'distillFromSLMs', actions: assign({ slmTeachers: ({ event }) => event.output.teachers }) },
            onError: { target: '#asyncServer.failed', actions: failWith('alignSLMTokens') },
          },
        },
        distillFromSLMs: {
          invoke: {
            id: 'distillFromSLMs',
            src: 'distillFromSLMs',
            input: ({ context }) => ({ round: context.round, slmTeachers: context.slmTeachers, staleness: context.batch.map((u) => u.staleness) }),
            onDone: 'computeLLMLogits',
            onError: { target: '#asyncServer.failed', actions: failWith('distillFromSLMs') },
          },
        },
        computeLLMLogits: {
          invoke: {
            id: 'computeLLMLogits',
            src: 'computeLLMLogits',
            input: ({ context }) => ({ round: context.round }),
            onDone: { target: 'broadcastLLMLogits', actions: assign({ llmLogits: ({ event }) => event.output.logits }) },
            onError: { target: '#asyncServer.failed', actions: failWith('computeLLMLogits') },
          },
        },
        broadcastLLMLogits: {
          invoke: {
            id: 'broadcastLLMLogits',
            src: 'broadcastLLMLogits',
            input: ({ context }) => ({ round: context.round, logits: context.llmLogits as PublicLogits }),
            onDone: { target: 'roundEnd', actions: 'recordUsed' },
            onError: { target: '#asyncServer.failed', actions: failWith('broadcastLLMLogits') },
          },
        },
        /** Version `round` is published: measure it, then make the next. */
        roundEnd: {
          invoke: {
            id: 'evaluate',
            src: 'evaluate',
            input: ({ context }) => ({ round: context.round }),
            onDone: { target: 'awaitSLMLogits', actions: 'openNextVersion' },
            onError: { target: '#asyncServer.failed', actions: failWith('evaluate') },
          },
        },
      },
    },
    finishing: {
      entry: 'countFinishAnnouncement',
      invoke: {
        id: 'announceFinish',
        src: 'announceFinish',
        input: ({ context }) => ({ round: published(context), reason: 'completed' as const, detail: context.endReason ?? '' }),
        onDone: 'awaitFinishAcks',
        onError: { target: 'failed', actions: failWith('announceFinish') },
      },
    },
    /** As in the sync server: the finish is announced again until every client acknowledged it. */
    awaitFinishAcks: {
      always: { guard: 'allFinishAcked', target: 'done' },
      after: {
        finishRetry: [
          { guard: 'finishAttemptsLeft', target: 'finishing' },
          { target: 'done', actions: 'giveUpOnFinishAcks' },
        ],
      },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
});

function rejectReason(context: AsyncServerContext, event: SlmLogitsEvent): IgnoreReason | null {
  if (!context.clients.includes(event.sender)) return 'unknown-sender';
  if (context.usedIds.includes(event.messageId) || context.buffer.some((u) => u.messageId === event.messageId)) return 'duplicate';
  if (event.round > published(context)) return 'future';
  const older = context.buffer.find((u) => u.client === event.sender);
  if (older && older.version > event.round) return 'late';
  return published(context) - event.round > context.policy.maxStaleness ? 'late' : null;
}

function ignored(context: AsyncServerContext, event: AsyncServerEvent, reason: IgnoreReason, message = 'slm-logits'): ProtocolRecord {
  return { type: 'ignored', round: event.round, atRound: context.round, messageId: event.messageId, sender: event.sender, message, reason };
}

function partialBuffer(context: AsyncServerContext): ProtocolRecord {
  return { type: 'quorum', round: context.round, accepted: context.batch.length, needed: context.policy.bufferSize, outcome: 'proceed' };
}
