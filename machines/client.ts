/**
 * The client's side of a FedMKT round (steps 1, 2, 7, 8 and optional FedAvg) as an XState
 * machine. Pure: every piece of work is an invoked actor supplied with `provide`, every
 * message arrives as an event, every protocol decision is emitted as a {@link ProtocolRecord}.
 */
import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { AlignedTeacher } from '../core/alignment/aligned-teacher.js';
import type { ActorId, AdapterTensors, PublicLogits } from '../core/protocol/messages.js';
import type { AdapterAverageEvent, FinishEvent, IgnoreReason, LlmLogitsEvent, ProtocolRecord, RoundStartEvent } from './protocol-events.js';
import { messageName } from './protocol-events.js';
import { failWith as failStep } from './work-failure.js';

const failWith = (step: string) => failStep<ClientContext, ClientEvent>(step);

export interface ClientPolicy {
  /** How long to wait for the LLM's logits after uploading (step 6 -> 7). */
  llmLogitsDeadlineMs: number;
  onMissingLLMLogits: 'self-distil' | 'skip';
  /** How long to wait for the FedAvg result after uploading the adapter. */
  adapterDeadlineMs: number;
  /** Silence from the server after which it is declared gone. */
  serverSilenceMs: number;
  /** A population's client, brought up for its round: how long it waits for the round's announcement. */
  announcementDeadlineMs: number;
  fedAvg: boolean;
}

export interface ClientInput {
  id: ActorId;
  totalRounds: number;
  /** Resuming a run from the checkpoints of this round: no zero-shot evaluation, wait for the next round. */
  resumeAfterRound?: number;
  /**
   * A population's client, selected for this round: its actor lives for that round only (no
   * zero-shot evaluation, released after the round).
   */
  selectedRound?: number;
  policy: ClientPolicy;
}

export interface ClientContext extends ClientInput {
  /** The round being worked on (0 before the first round starts). */
  round: number;
  /** Highest round the server has announced. */
  announcedRound: number;
  finishRequested: boolean;
  /** Step 2 output of this round (the SLM's own top-K, also its DualMinCE "itself"). */
  ownLogits: PublicLogits | null;
  /** Step 6 message of this round, possibly received before the client was ready for it. */
  llmLogits: { messageId: string; logits: PublicLogits } | null;
  /** Step 6 message of an announced round the client has not started yet (it was still busy). */
  earlyLLMLogits: { round: number; messageId: string; logits: PublicLogits } | null;
  /** Step 7 output: the LLM's logits over this client's tokenisation. */
  llmTeacher: AlignedTeacher | null;
  adapterAverage: AdapterTensors | null;
  /** The FedAvg result of this round stopped being awaited (deadline passed). */
  averageMissed: boolean;
  /** Why the round went without the LLM, if it did. */
  missedLLM: 'deadline' | 'server-moved-on' | null;
  failure: string | null;
}

export type ClientEvent = RoundStartEvent | LlmLogitsEvent | AdapterAverageEvent | FinishEvent;

type WorkInput = { round: number };

/** The client's work, one function per invoked step: what the actor layer supplies (actors/client-actor.ts). */
export interface ClientWork {
  /** Step 1: supervised LoRA training on the private shard. */
  trainPrivate(input: WorkInput): Promise<{ loss: number }>;
  /** Step 2a: run the SLM over the public set (top-K logits, per-sample CE). */
  computePublicLogits(input: WorkInput): Promise<{ logits: PublicLogits }>;
  /** Step 2b: upload them to the server. */
  uploadLogits(input: WorkInput & { logits: PublicLogits }): Promise<void>;
  /** Step 7: align the LLM's tokens to this client's. */
  alignLLMTokens(input: WorkInput & { llmLogits: PublicLogits; ownLogits: PublicLogits }): Promise<{ teacher: AlignedTeacher }>;
  /** Step 8: DualMinCE selection between the aligned LLM and itself, then distillation. */
  distillFromLLM(input: WorkInput & { llmTeacher: AlignedTeacher | null; ownLogits: PublicLogits }): Promise<{ loss: number }>;
  /** Homogeneous setting: upload this client's LoRA adapter for averaging. */
  uploadAdapter(input: WorkInput): Promise<void>;
  /** Homogeneous setting: load the averaged adapter. */
  applyAdapterAverage(input: WorkInput & { tensors: AdapterTensors }): Promise<void>;
  /** Measurement, not protocol: evaluate the model after a round (round 0: zero-shot). */
  evaluate(input: WorkInput): Promise<void>;
}

function notProvided<K extends keyof ClientWork>(name: K) {
  return fromPromise<Awaited<ReturnType<ClientWork[K]>>, Parameters<ClientWork[K]>[0]>(async () => {
    throw new Error(`client work "${name}" was not provided: supply it with clientMachine.provide({ actors })`);
  });
}

/** Waiting for a round: its announcement starts it; the finish ends the client. */
const announcedOrFinished = () => [
  { guard: 'newerRoundAnnounced' as const, target: 'round', actions: 'startAnnouncedRound' as const },
  { guard: 'finishRequested' as const, target: 'done' },
];

export const clientMachine = setup({
  types: {
    context: {} as ClientContext,
    events: {} as ClientEvent,
    input: {} as ClientInput,
    emitted: {} as ProtocolRecord,
  },
  actors: {
    trainPrivate: notProvided('trainPrivate'),
    computePublicLogits: notProvided('computePublicLogits'),
    uploadLogits: notProvided('uploadLogits'),
    alignLLMTokens: notProvided('alignLLMTokens'),
    distillFromLLM: notProvided('distillFromLLM'),
    uploadAdapter: notProvided('uploadAdapter'),
    applyAdapterAverage: notProvided('applyAdapterAverage'),
    evaluate: notProvided('evaluate'),
  },
  delays: {
    llmLogitsDeadline: ({ context }) => context.policy.llmLogitsDeadlineMs,
    adapterDeadline: ({ context }) => context.policy.adapterDeadlineMs,
    serverSilence: ({ context }) => context.policy.serverSilenceMs,
    announcementDeadline: ({ context }) => context.policy.announcementDeadlineMs,
  },
  guards: {
    hasLLMLogits: ({ context }) => context.llmLogits !== null,
    /** Usable: this round's, not yet had, and the client has not given up waiting for it. */
    isLLMLogitsForThisRound: ({ context, event }) =>
      event.type === 'LLM_LOGITS' && event.round === context.round && context.llmLogits === null && context.missedLLM === null,
    /** A round already announced (or a population's client's own, its announcement still on the way) but not started: keep it for when the client gets there. */
    isLLMLogitsForAnnouncedRound: ({ context, event }) =>
      event.type === 'LLM_LOGITS' &&
      event.round > context.round &&
      event.round <= Math.max(context.announcedRound, context.selectedRound ?? 0) &&
      context.earlyLLMLogits?.round !== event.round,
    isAverageForThisRound: ({ context, event }) =>
      event.type === 'ADAPTER_AVERAGE' && event.round === context.round && context.adapterAverage === null && !context.averageMissed,
    selfDistilWhenMissing: ({ context }) => context.policy.onMissingLLMLogits === 'self-distil',
    fedAvgEnabled: ({ context }) => context.policy.fedAvg,
    /** The server announced the end of the run (completed or aborted). */
    finishRequested: ({ context }) => context.finishRequested,
    newerRoundAnnounced: ({ context }) => context.announcedRound > context.round,
    /** The server sends a round's logits and average before it announces the next round or the finish: they are not coming. */
    serverMovedOn: ({ context }) => context.announcedRound > context.round || context.finishRequested,
    resuming: ({ context }) => (context.resumeAfterRound ?? 0) > 0,
    selectedForOneRound: ({ context }) => context.selectedRound !== undefined,
  },
  actions: {
    startAnnouncedRound: assign(({ context }) => {
      const early = context.earlyLLMLogits;
      return {
        round: context.announcedRound,
        ownLogits: null,
        llmLogits: early && early.round === context.announcedRound ? { messageId: early.messageId, logits: early.logits } : null,
        earlyLLMLogits: null,
        llmTeacher: null,
        adapterAverage: null,
        averageMissed: false,
        missedLLM: null,
      };
    }),
    keepEarlyLLMLogits: assign({
      earlyLLMLogits: ({ event }) => (event.type === 'LLM_LOGITS' ? { round: event.round, messageId: event.messageId, logits: event.logits } : null),
    }),
    /** A round announcement: accepted once; a repeat, an old one or one past the last round changes nothing. */
    noteAnnouncement: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ROUND_START') return;
      // A round beyond the run's last is no round of this run.
      if (event.round > context.announcedRound && event.round <= context.totalRounds) {
        enqueue.assign({ announcedRound: event.round });
        enqueue.emit({ type: 'accepted', round: event.round, messageId: event.messageId, sender: event.sender, message: 'round-start' });
      } else {
        enqueue.emit({
          type: 'ignored',
          round: event.round,
          atRound: context.round,
          messageId: event.messageId,
          sender: event.sender,
          message: 'round-start',
          reason: event.round > context.totalRounds ? 'unexpected' : event.round === context.announcedRound ? 'duplicate' : 'late',
        });
      }
    }),
    keepLLMLogits: assign({
      llmLogits: ({ event }) => (event.type === 'LLM_LOGITS' ? { messageId: event.messageId, logits: event.logits } : null),
    }),
    recordAccepted: emit(({ context, event }) => ({
      type: 'accepted' as const,
      round: context.round,
      messageId: 'messageId' in event ? event.messageId : '',
      sender: 'sender' in event ? event.sender : '',
      message: messageName(event.type),
    })),
    recordIgnored: emit(({ context, event }) => ({
      type: 'ignored' as const,
      round: event.round,
      atRound: context.round,
      messageId: event.messageId,
      sender: event.sender,
      message: messageName(event.type),
      reason: ignoreReason(event, context),
    })),
    requestFinish: assign({ finishRequested: true }),
    /** Send the server a receipt of its finish announcement (every copy: the server repeats it until it has one). Supplied by the actor layer. */
    acknowledgeFinish: (_, _params: { round: number }) => undefined,
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({
    ...input,
    round: input.resumeAfterRound ?? (input.selectedRound ?? 1) - 1,
    announcedRound: input.resumeAfterRound ?? (input.selectedRound ?? 1) - 1,
    finishRequested: false,
    ownLogits: null,
    llmLogits: null,
    llmTeacher: null,
    earlyLLMLogits: null,
    adapterAverage: null,
    averageMissed: false,
    missedLLM: null,
    failure: null,
  }),
  initial: 'start',
  on: {
    // Anything a more specific state did not take is recorded and changes nothing.
    ROUND_START: { actions: 'noteAnnouncement' },
    LLM_LOGITS: [
      { guard: 'isLLMLogitsForThisRound', actions: ['keepLLMLogits', 'recordAccepted'] },
      { guard: 'isLLMLogitsForAnnouncedRound', actions: ['keepEarlyLLMLogits', 'recordAccepted'] },
      { actions: 'recordIgnored' },
    ],
    // Kept even before the client reaches fedAvg: the server may average without waiting for it.
    ADAPTER_AVERAGE: [
      { guard: 'isAverageForThisRound', actions: [assign({ adapterAverage: ({ event }) => event.tensors }), 'recordAccepted'] },
      { actions: 'recordIgnored' },
    ],
    FINISH: [
      { guard: 'finishRequested', actions: ['recordIgnored', { type: 'acknowledgeFinish', params: ({ event }) => ({ round: event.round }) }] },
      { actions: ['requestFinish', 'recordAccepted', { type: 'acknowledgeFinish', params: ({ event }) => ({ round: event.round }) }] },
    ],
  },
  states: {
    /** A fresh run measures the zero-shot SLM first; a resumed one waits for its next round. */
    start: {
      always: [{ guard: 'resuming', target: 'waitForRound' }, { guard: 'selectedForOneRound', target: 'awaitAnnouncement' }, { target: 'evaluateZeroShot' }],
    },
    evaluateZeroShot: {
      invoke: {
        id: 'evaluate',
        src: 'evaluate',
        input: () => ({ round: 0 }),
        onDone: 'waitForRound',
        onError: { target: 'failed', actions: failWith('evaluate') },
      },
    },
    /**
     * Between rounds, and after the last one: a client ends only when the server announces the
     * end (and it has acknowledged that), so that the server knows every client heard it.
     */
    waitForRound: {
      always: announcedOrFinished(),
      after: {
        serverSilence: {
          target: 'failed',
          actions: assign({
            failure: ({ context }) =>
              context.round >= context.totalRounds
                ? 'server gone: no finish announced after the last round before the silence deadline'
                : 'server gone: no round announcement before the silence deadline',
          }),
        },
      },
    },
    /**
     * A population's client, brought up as the server selects it: the announcement of its round
     * comes at once. Lost on the way, it is not coming: by the server's upload deadline the round
     * is going on without this client, which leaves (a device never reached stays idle).
     */
    awaitAnnouncement: {
      always: announcedOrFinished(),
      after: {
        announcementDeadline: {
          target: 'released',
          actions: emit(({ context }) => ({ type: 'deadline' as const, round: context.round, state: 'awaitAnnouncement', action: 'leave' })),
        },
      },
    },
    round: {
      initial: 'trainPrivate',
      onDone: 'roundEnd',
      states: {
        trainPrivate: {
          invoke: {
            id: 'trainPrivate',
            src: 'trainPrivate',
            input: ({ context }) => ({ round: context.round }),
            onDone: 'computePublicLogits',
            onError: { target: '#client.failed', actions: failWith('trainPrivate') },
          },
        },
        computePublicLogits: {
          invoke: {
            id: 'computePublicLogits',
            src: 'computePublicLogits',
            input: ({ context }) => ({ round: context.round }),
            onDone: { target: 'uploadLogits', actions: assign({ ownLogits: ({ event }) => event.output.logits }) },
            onError: {
              target: '#client.failed',
              actions: failWith('computePublicLogits'),
            },
          },
        },
        uploadLogits: {
          invoke: {
            id: 'uploadLogits',
            src: 'uploadLogits',
            input: ({ context }) => ({ round: context.round, logits: context.ownLogits as PublicLogits }),
            onDone: 'awaitLLMLogits',
            onError: { target: '#client.failed', actions: failWith('uploadLogits') },
          },
        },
        awaitLLMLogits: {
          // Checked on entry and after every event (an announcement is noted at the root):
          always: [
            { guard: 'hasLLMLogits', target: 'alignLLMTokens' },
            // A newer round or the finish was announced, before this state or while in it.
            { guard: 'serverMovedOn', target: 'llmLogitsMissing', actions: assign({ missedLLM: 'server-moved-on' }) },
          ],
          after: {
            llmLogitsDeadline: {
              target: 'llmLogitsMissing',
              actions: [
                assign({ missedLLM: 'deadline' }),
                emit(({ context }) => ({
                  type: 'deadline' as const,
                  round: context.round,
                  state: 'awaitLLMLogits',
                  action: context.policy.onMissingLLMLogits,
                })),
              ],
            },
          },
        },
        llmLogitsMissing: {
          always: [{ guard: 'selfDistilWhenMissing', target: 'distillFromLLM' }, { target: 'roundComplete' }],
        },
        alignLLMTokens: {
          invoke: {
            id: 'alignLLMTokens',
            src: 'alignLLMTokens',
            input: ({ context }) => ({
              round: context.round,
              llmLogits: context.llmLogits?.logits as PublicLogits,
              ownLogits: context.ownLogits as PublicLogits,
            }),
            onDone: { target: 'distillFromLLM', actions: assign({ llmTeacher: ({ event }) => event.output.teacher }) },
            onError: { target: '#client.failed', actions: failWith('alignLLMTokens') },
          },
        },
        distillFromLLM: {
          invoke: {
            id: 'distillFromLLM',
            src: 'distillFromLLM',
            input: ({ context }) => ({ round: context.round, llmTeacher: context.llmTeacher, ownLogits: context.ownLogits as PublicLogits }),
            onDone: [{ guard: 'fedAvgEnabled', target: 'fedAvg' }, { target: 'roundComplete' }],
            onError: { target: '#client.failed', actions: failWith('distillFromLLM') },
          },
        },
        fedAvg: {
          initial: 'uploadAdapter',
          onDone: 'roundComplete',
          states: {
            uploadAdapter: {
              invoke: {
                id: 'uploadAdapter',
                src: 'uploadAdapter',
                input: ({ context }) => ({ round: context.round }),
                onDone: 'awaitAverage',
                onError: { target: '#client.failed', actions: failWith('uploadAdapter') },
              },
            },
            awaitAverage: {
              always: [
                { guard: ({ context }) => context.adapterAverage !== null, target: 'applyAverage' },
                { guard: 'serverMovedOn', target: 'skipped', actions: assign({ averageMissed: true }) },
              ],
              after: {
                adapterDeadline: {
                  target: 'skipped',
                  actions: [
                    assign({ averageMissed: true }),
                    emit(({ context }) => ({ type: 'deadline' as const, round: context.round, state: 'fedAvg', action: 'keep-local-adapter' })),
                  ],
                },
              },
            },
            applyAverage: {
              invoke: {
                id: 'applyAdapterAverage',
                src: 'applyAdapterAverage',
                input: ({ context }) => ({ round: context.round, tensors: context.adapterAverage as AdapterTensors }),
                onDone: 'applied',
                onError: {
                  target: '#client.failed',
                  actions: failWith('applyAdapterAverage'),
                },
              },
            },
            applied: { type: 'final' },
            skipped: { type: 'final' },
          },
        },
        roundComplete: { type: 'final' },
      },
    },
    roundEnd: {
      invoke: {
        id: 'evaluate',
        src: 'evaluate',
        input: ({ context }) => ({ round: context.round }),
        onDone: [
          { guard: 'finishRequested', target: 'done' },
          { guard: 'selectedForOneRound', target: 'released' },
          { guard: 'newerRoundAnnounced', target: 'round', actions: 'startAnnouncedRound' },
          { target: 'waitForRound' },
        ],
        onError: { target: 'failed', actions: failWith('evaluate') },
      },
    },
    /** A population's client has taken part in its round: its actor goes, its compact state stays with the run. */
    released: { type: 'final' },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
});

function ignoreReason(event: LlmLogitsEvent | AdapterAverageEvent | RoundStartEvent | FinishEvent, context: ClientContext): IgnoreReason {
  if (event.type === 'FINISH') return 'duplicate';
  if (event.round < context.round) return 'late';
  if (event.round > context.round) return event.type === 'LLM_LOGITS' && event.round <= context.announcedRound ? 'duplicate' : 'future';
  if (event.type === 'LLM_LOGITS') return context.llmLogits !== null ? 'duplicate' : 'late';
  if (event.type === 'ADAPTER_AVERAGE') return context.adapterAverage !== null ? 'duplicate' : 'late';
  return 'duplicate';
}
