/**
 * The server's side of a FedMKT round (steps 3 to 6, plus FedAvg aggregation in the
 * homogeneous setting) as an XState machine. Pure: work is invoked through actors supplied
 * with `provide`, messages arrive as events, decisions are emitted as {@link ProtocolRecord}s.
 */
import { and, assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { AlignedTeacher } from '../core/alignment/aligned-teacher.js';
import type { ActorId, AdapterTensors, PublicLogits } from '../core/protocol/messages.js';
import { failWith as failStep } from './work-failure.js';
import { bookGet, bookHas, bookWith, emptyBook, type UploadBook } from '../core/upload-book.js';
import type { AdapterEvent, FinishAckEvent, IgnoreReason, ProtocolRecord, SlmLogitsEvent } from './protocol-events.js';
import {
  acceptedWithinWindow,
  closedReason,
  isMember,
  isAcceptableLate,
  lateAccepted,
  rejectReason,
  type Upload,
  uploadOrder,
  uploadsAwaited,
} from './server-uploads.js';

export interface ServerPolicy {
  /** How long the server collects SLM uploads after announcing a round. */
  uploadDeadlineMs: number;
  /** Uploads needed to proceed when the deadline passes. */
  quorum: number;
  onQuorumLost: 'skip-round' | 'abort';
  /** How long the server collects adapters for FedAvg. */
  adapterDeadlineMs: number;
  fedAvg: boolean;
  /** LLM2SLM: the LLM is never distilled into. */
  llmFrozen: boolean;
  /**
   * Staleness bound for late uploads: an upload of round r arriving while round r+k collects,
   * 0 < k <= this, counts toward round r+k as that client's upload if it has none. 0 (the
   * default): late uploads are ignored.
   */
  lateAcceptWithinRounds?: number;
  /** The finish is announced again this long after the last announcement while a client has not acknowledged it... */
  finishRetryMs: number;
  /** ...at most this many announcements in all; then the server ends without the missing receipts. */
  finishAttempts: number;
}

export interface ServerInput {
  totalRounds: number;
  /** Resuming a run from the checkpoints of this round: no zero-shot evaluation, the next round opens first. */
  resumeAfterRound?: number;
  /** Listed clients: every round is announced to all of them, and each acknowledges the finish. Empty for a population. */
  clients: ActorId[];
  /**
   * A population: the uploads awaited per round (of those announced, the rest are stragglers).
   * Absent: every announced client's upload.
   */
  perRound?: number;
  policy: ServerPolicy;
}

interface AdapterUpload {
  messageId: string;
  tensors: AdapterTensors;
  weight: number;
}

export interface ServerContext extends ServerInput {
  round: number;
  /** The clients the open round was announced to (listed clients: all of them). */
  selected: ActorId[];
  /** Accepted step-2 uploads of the open round, by client. */
  uploads: UploadBook<Upload>;
  /**
   * The uploads accepted in earlier rounds that a late copy could still come from (the staleness
   * window): a copy of one is a duplicate, never a late upload to count again.
   */
  acceptedEarlier: { client: ActorId; madeFor: number }[];
  /**
   * Uploads that reached the server while it was still announcing the round (over a real
   * network a fast client of a population can answer before the last announcement is out),
   * taken or ignored as collection opens, once the server knows whom it announced to.
   */
  earlyUploads: SlmLogitsEvent[];
  /** Step 3 output: each upload aligned to the LLM's tokenisation, in `clients` order. */
  slmTeachers: { client: ActorId; teacher: AlignedTeacher }[];
  /** Step 5 output. */
  llmLogits: PublicLogits | null;
  adapters: Record<ActorId, AdapterUpload>;
  /** FedAvg collection of this round has ended (averaged or given up). */
  adaptersClosed: boolean;
  skippedRounds: number[];
  /** Clients that acknowledged the finish announcement. */
  finishAcks: ActorId[];
  /** Finish announcements made so far. */
  finishAnnouncements: number;
  failure: string | null;
}

export type ServerEvent = SlmLogitsEvent | AdapterEvent | FinishAckEvent;

type WorkInput = { round: number };
type SlmTeacher = { client: ActorId; teacher: AlignedTeacher };

/** The server's work, one function per invoked step: what the actor layer supplies (actors/server-actor.ts). */
export interface ServerWork {
  /** Tell the round's clients that round r is open and when uploads are due; a population's are chosen here. */
  announceRound(input: WorkInput & { uploadDeadline: number }): Promise<{ selected: ActorId[] } | undefined>;
  /** Step 3: align each SLM's tokens to the LLM's. */
  alignSLMTokens(input: WorkInput & { uploads: { client: ActorId; logits: PublicLogits }[] }): Promise<{ teachers: SlmTeacher[] }>;
  /** Step 4: DualMinCE over {LLM itself, aligned SLMs}, then distillation into the LLM. */
  distillFromSLMs(input: WorkInput & { slmTeachers: SlmTeacher[] }): Promise<{ loss: number }>;
  /** Step 5: the updated LLM over the public set. */
  computeLLMLogits(input: WorkInput): Promise<{ logits: PublicLogits }>;
  /** Step 6: send them to every client. */
  broadcastLLMLogits(input: WorkInput & { logits: PublicLogits }): Promise<void>;
  /** Homogeneous setting: average the adapters received and send the mean back. */
  averageAdapters(input: WorkInput & { adapters: { client: ActorId; upload: AdapterUpload }[] }): Promise<void>;
  announceFinish(input: WorkInput & { reason: 'completed' | 'aborted'; detail: string }): Promise<void>;
  /** Measurement, not protocol: evaluate the LLM after a round (round 0: zero-shot). */
  evaluate(input: WorkInput): Promise<void>;
}

function notProvided<K extends keyof ServerWork>(name: K) {
  return fromPromise<Awaited<ReturnType<ServerWork[K]>>, Parameters<ServerWork[K]>[0]>(async () => {
    throw new Error(`server work "${name}" was not provided: supply it with serverMachine.provide({ actors })`);
  });
}

const failWith = (step: string) => failStep<ServerContext, ServerEvent>(step);

export const serverMachine = setup({
  types: {
    context: {} as ServerContext,
    events: {} as ServerEvent,
    input: {} as ServerInput,
    emitted: {} as ProtocolRecord,
  },
  actors: {
    announceRound: notProvided('announceRound'),
    alignSLMTokens: notProvided('alignSLMTokens'),
    distillFromSLMs: notProvided('distillFromSLMs'),
    computeLLMLogits: notProvided('computeLLMLogits'),
    broadcastLLMLogits: notProvided('broadcastLLMLogits'),
    averageAdapters: notProvided('averageAdapters'),
    announceFinish: notProvided('announceFinish'),
    evaluate: notProvided('evaluate'),
  },
  delays: {
    uploadDeadline: ({ context }) => context.policy.uploadDeadlineMs,
    adapterDeadline: ({ context }) => context.policy.adapterDeadlineMs,
    finishRetry: ({ context }) => context.policy.finishRetryMs,
  },
  guards: {
    allUploadsIn: ({ context }) => context.uploads.size >= uploadsAwaited(context),
    /** Staleness policy: an earlier round's upload within the bound, from a client with no upload in this round yet. */
    acceptableLateUpload: ({ context, event }) => event.type === 'SLM_LOGITS' && isAcceptableLate(context, event),
    quorumMet: ({ context }) => context.uploads.size >= context.policy.quorum,
    skipOnQuorumLost: ({ context }) => context.policy.onQuorumLost === 'skip-round',
    llmFrozen: ({ context }) => context.policy.llmFrozen,
    fedAvgEnabled: ({ context }) => context.policy.fedAvg,
    allAdaptersIn: ({ context }) => Object.keys(context.adapters).length >= (context.perRound === undefined ? context.clients.length : context.uploads.size),
    adapterCollectionOpen: ({ context }) => context.policy.fedAvg && !context.adaptersClosed,
    anyAdapters: ({ context }) => Object.keys(context.adapters).length > 0,
    moreRounds: ({ context }) => context.round < context.totalRounds,
    resuming: ({ context }) => (context.resumeAfterRound ?? 0) > 0,
    /** A population's clients leave after their round: only listed clients acknowledge the finish. */
    allFinishAcked: ({ context }) => context.clients.every((c) => context.finishAcks.includes(c)),
    finishAttemptsLeft: ({ context }) => context.finishAnnouncements < context.policy.finishAttempts,
    /** The run ends aborted (quorum lost under the abort policy), not completed. */
    aborted: ({ context }) => context.failure !== null,
  },
  actions: {
    /** Step 2 upload: accepted once per client and round; everything else is recorded and dropped. */
    takeUpload: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SLM_LOGITS') return;
      const reason = rejectReason(context, event, bookHas(context.uploads, event.sender));
      if (reason) {
        enqueue.emit(ignored(context, event, 'slm-logits', reason));
        return;
      }
      enqueue.assign({ uploads: bookWith(context.uploads, event.sender, { messageId: event.messageId, logits: event.logits, madeFor: event.round }) });
      enqueue.emit({ type: 'accepted', round: event.round, messageId: event.messageId, sender: event.sender, message: 'slm-logits' });
    }),
    /** A late upload the staleness policy lets count toward the open round. */
    takeLateUpload: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SLM_LOGITS') return;
      enqueue.assign({ uploads: bookWith(context.uploads, event.sender, { messageId: event.messageId, logits: event.logits, madeFor: event.round }) });
      enqueue.emit(lateAccepted(context, event));
    }),
    holdEarlyUpload: assign({ earlyUploads: ({ context, event }) => (event.type === 'SLM_LOGITS' ? [...context.earlyUploads, event] : context.earlyUploads) }),
    /**
     * Collection opens: the uploads that came during the announcement, raised again in their
     * order, so that each goes through collection's own transitions as if it came now (collection
     * closing once the uploads it awaits are in, the rest then late).
     */
    takeEarlyUploads: enqueueActions(({ context, enqueue }) => {
      if (context.earlyUploads.length === 0) return;
      for (const event of context.earlyUploads) enqueue.raise(event);
      enqueue.assign({ earlyUploads: [] });
    }),
    takeAdapter: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ADAPTER') return;
      const reason = rejectReason(context, event, event.sender in context.adapters);
      if (reason) {
        enqueue.emit(ignored(context, event, 'adapter', reason));
        return;
      }
      enqueue.assign({
        adapters: { ...context.adapters, [event.sender]: { messageId: event.messageId, tensors: event.tensors, weight: event.weight } },
      });
      enqueue.emit({ type: 'accepted', round: event.round, messageId: event.messageId, sender: event.sender, message: 'adapter' });
    }),
    /** A client's receipt of the finish: noted once; every copy is recorded. */
    takeFinishAck: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'FINISH_ACK') return;
      const known = isMember(context, event.sender);
      if (!known || context.finishAcks.includes(event.sender)) {
        enqueue.emit(ignored(context, event, 'finish-ack', known ? 'duplicate' : 'unknown-sender'));
        return;
      }
      enqueue.assign({ finishAcks: [...context.finishAcks, event.sender] });
      enqueue.emit({ type: 'accepted', round: event.round, messageId: event.messageId, sender: event.sender, message: 'finish-ack' });
    }),
    countFinishAnnouncement: assign({ finishAnnouncements: ({ context }) => context.finishAnnouncements + 1 }),
    /** The announcements ran out: the server ends without the receipts of these clients. */
    giveUpOnFinishAcks: emit(({ context }) => ({
      type: 'deadline' as const,
      round: context.round,
      state: 'awaitFinishAcks',
      action: 'end-unacknowledged',
      missing: context.clients.filter((c) => !context.finishAcks.includes(c)),
    })),
    ignoreUpload: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'SLM_LOGITS' || event.type === 'ADAPTER')
        enqueue.emit(ignored(context, event, event.type === 'SLM_LOGITS' ? 'slm-logits' : 'adapter', closedReason(context, event)));
    }),
    /** Over-committed clients whose uploads the round did without. */
    noteStragglers: enqueueActions(({ context, enqueue }) => {
      if (context.perRound === undefined) return;
      const stragglers = context.selected.filter((c) => !bookHas(context.uploads, c));
      if (stragglers.length > 0) enqueue.emit({ type: 'stragglers', round: context.round, clients: stragglers });
    }),
    openNextRound: assign(({ context }) => ({
      round: context.round + 1,
      acceptedEarlier: acceptedWithinWindow(context, context.round + 1),
      uploads: emptyBook<Upload>(),
      slmTeachers: [],
      llmLogits: null,
      adapters: {},
      adaptersClosed: false,
    })),
  },
}).createMachine({
  id: 'server',
  context: ({ input }) => ({
    ...input,
    round: input.resumeAfterRound ?? 0,
    selected: input.clients,
    uploads: emptyBook<Upload>(),
    acceptedEarlier: [],
    earlyUploads: [],
    slmTeachers: [],
    llmLogits: null,
    adapters: {},
    adaptersClosed: false,
    skippedRounds: [],
    finishAcks: [],
    finishAnnouncements: 0,
    failure: null,
  }),
  initial: 'start',
  on: {
    // Uploads outside the collecting states belong to a closed or future round.
    SLM_LOGITS: { actions: 'ignoreUpload' },
    // An adapter may arrive before the server reaches fedAvg (its broadcast still going out).
    ADAPTER: [{ guard: 'adapterCollectionOpen', actions: 'takeAdapter' }, { actions: 'ignoreUpload' }],
    // A receipt may arrive while the finish is being announced again.
    FINISH_ACK: { actions: 'takeFinishAck' },
  },
  states: {
    /** A fresh run measures the zero-shot LLM first; a resumed one opens its next round. */
    start: {
      always: [
        { guard: and(['resuming', 'moreRounds']), target: 'round', actions: 'openNextRound' },
        { guard: 'resuming', target: 'finishing' },
        { target: 'evaluateZeroShot' },
      ],
    },
    evaluateZeroShot: {
      invoke: {
        id: 'evaluate',
        src: 'evaluate',
        input: () => ({ round: 0 }),
        onDone: { target: 'round', actions: 'openNextRound' },
        onError: { target: 'failed', actions: failWith('evaluate') },
      },
    },
    round: {
      initial: 'announceRound',
      onDone: 'roundEnd',
      states: {
        announceRound: {
          invoke: {
            id: 'announceRound',
            src: 'announceRound',
            input: ({ context }) => ({ round: context.round, uploadDeadline: context.policy.uploadDeadlineMs }),
            onDone: { target: 'awaitSLMLogits', actions: assign({ selected: ({ context, event }) => event.output?.selected ?? context.clients }) },
            onError: { target: '#server.failed', actions: failWith('announceRound') },
          },
          on: { SLM_LOGITS: { actions: 'holdEarlyUpload' } },
        },
        awaitSLMLogits: {
          entry: 'takeEarlyUploads',
          exit: 'noteStragglers',
          on: { SLM_LOGITS: [{ guard: 'acceptableLateUpload', actions: 'takeLateUpload' }, { actions: 'takeUpload' }] },
          always: { guard: 'allUploadsIn', target: 'alignSLMTokens' },
          after: {
            uploadDeadline: [
              {
                guard: 'quorumMet',
                target: 'alignSLMTokens',
                actions: emit(({ context }) => quorumRecord(context, 'proceed')),
              },
              {
                guard: 'skipOnQuorumLost',
                target: 'roundSkipped',
                actions: [
                  emit(({ context }) => quorumRecord(context, 'skip-round')),
                  assign({ skippedRounds: ({ context }) => [...context.skippedRounds, context.round] }),
                ],
              },
              {
                target: '#server.aborting',
                actions: [
                  emit(({ context }) => quorumRecord(context, 'abort')),
                  assign({
                    failure: ({ context }) =>
                      `quorum lost in round ${context.round}: ${context.uploads.size} of ${context.policy.quorum} uploads by the deadline`,
                  }),
                ],
              },
            ],
          },
        },
        alignSLMTokens: {
          always: { guard: 'llmFrozen', target: 'computeLLMLogits' },
          invoke: {
            id: 'alignSLMTokens',
            src: 'alignSLMTokens',
            input: ({ context }) => ({
              round: context.round,
              uploads: uploadOrder(context).map((c) => ({ client: c, logits: bookGet(context.uploads, c)!.logits })),
            }),
            onDone: { target: 'distillFromSLMs', actions: assign({ slmTeachers: ({ event }) => event.output.teachers }) },
            onError: { target: '#server.failed', actions: failWith('alignSLMTokens') },
          },
        },
        distillFromSLMs: {
          invoke: {
            id: 'distillFromSLMs',
            src: 'distillFromSLMs',
            input: ({ context }) => ({ round: context.round, slmTeachers: context.slmTeachers }),
            onDone: 'computeLLMLogits',
            onError: { target: '#server.failed', actions: failWith('distillFromSLMs') },
          },
        },
        computeLLMLogits: {
          invoke: {
            id: 'computeLLMLogits',
            src: 'computeLLMLogits',
            input: ({ context }) => ({ round: context.round }),
            onDone: { target: 'broadcastLLMLogits', actions: assign({ llmLogits: ({ event }) => event.output.logits }) },
            onError: { target: '#server.failed', actions: failWith('computeLLMLogits') },
          },
        },
        broadcastLLMLogits: {
          invoke: {
            id: 'broadcastLLMLogits',
            src: 'broadcastLLMLogits',
            input: ({ context }) => ({ round: context.round, logits: context.llmLogits as PublicLogits }),
            onDone: [{ guard: 'fedAvgEnabled', target: 'fedAvg' }, { target: 'roundComplete' }],
            onError: { target: '#server.failed', actions: failWith('broadcastLLMLogits') },
          },
        },
        fedAvg: {
          initial: 'awaitAdapters',
          onDone: 'roundComplete',
          states: {
            awaitAdapters: {
              on: { ADAPTER: { actions: 'takeAdapter' } },
              always: { guard: 'allAdaptersIn', target: 'averageAdapters' },
              after: {
                adapterDeadline: [
                  { guard: 'anyAdapters', target: 'averageAdapters' },
                  {
                    target: 'averaged',
                    actions: emit(({ context }) => ({ type: 'deadline' as const, round: context.round, state: 'fedAvg', action: 'no-adapters' })),
                  },
                ],
              },
            },
            averageAdapters: {
              invoke: {
                id: 'averageAdapters',
                src: 'averageAdapters',
                input: ({ context }) => ({
                  round: context.round,
                  adapters: (context.perRound === undefined ? context.clients : Object.keys(context.adapters))
                    .filter((c) => c in context.adapters)
                    .map((c) => ({ client: c, upload: context.adapters[c]! })),
                }),
                onDone: 'averaged',
                onError: { target: '#server.failed', actions: failWith('averageAdapters') },
              },
            },
            averaged: { type: 'final', entry: assign({ adaptersClosed: true }) },
          },
        },
        roundSkipped: { type: 'final' },
        roundComplete: { type: 'final' },
      },
    },
    roundEnd: {
      invoke: {
        id: 'evaluate',
        src: 'evaluate',
        input: ({ context }) => ({ round: context.round }),
        onDone: [{ guard: 'moreRounds', target: 'round', actions: 'openNextRound' }, { target: 'finishing' }],
        onError: { target: 'failed', actions: failWith('evaluate') },
      },
    },
    finishing: {
      entry: 'countFinishAnnouncement',
      invoke: {
        id: 'announceFinish',
        src: 'announceFinish',
        input: ({ context }) => ({ round: context.round, reason: 'completed' as const, detail: '' }),
        onDone: 'awaitFinishAcks',
        onError: { target: 'failed', actions: failWith('announceFinish') },
      },
    },
    aborting: {
      entry: 'countFinishAnnouncement',
      invoke: {
        id: 'announceFinish',
        src: 'announceFinish',
        input: ({ context }) => ({ round: context.round, reason: 'aborted' as const, detail: context.failure ?? '' }),
        onDone: 'awaitFinishAcks',
        onError: 'failed',
      },
    },
    /**
     * Every client acknowledges the finish; one that has not by the retry delay is told again, so
     * that a lost or late `finish` cannot leave a client waiting for rounds that never come.
     */
    awaitFinishAcks: {
      always: [
        { guard: and(['allFinishAcked', 'aborted']), target: 'failed' },
        { guard: 'allFinishAcked', target: 'done' },
      ],
      after: {
        finishRetry: [
          { guard: and(['finishAttemptsLeft', 'aborted']), target: 'aborting' },
          { guard: 'finishAttemptsLeft', target: 'finishing' },
          { guard: 'aborted', target: 'failed', actions: 'giveUpOnFinishAcks' },
          { target: 'done', actions: 'giveUpOnFinishAcks' },
        ],
      },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
});

function ignored(context: ServerContext, event: ServerEvent, message: string, reason: IgnoreReason): ProtocolRecord {
  return { type: 'ignored', round: event.round, atRound: context.round, messageId: event.messageId, sender: event.sender, message, reason };
}

function quorumRecord(context: ServerContext, outcome: 'proceed' | 'skip-round' | 'abort'): ProtocolRecord {
  return { type: 'quorum', round: context.round, accepted: context.uploads.size, needed: context.policy.quorum, outcome };
}
