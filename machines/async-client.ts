/**
 * A client of buffered and asynchronous FedMKT (docs/async.md) as an XState machine: it loops
 * at its own pace. Each pass trains on its private shard (step 1), uploads its public logits
 * tagged with the LLM version it last took (step 2), then takes the LLM's newest version (steps
 * 7, 8) as soon as one newer than its tag is there, which may be at once. The server announces
 * no rounds; the client ends when the server announces the finish, and acknowledges it. Pure,
 * like machines/client.ts.
 */
import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { AlignedTeacher } from '../core/alignment/aligned-teacher.js';
import type { ActorId, PublicLogits } from '../core/protocol/messages.js';
import type { FinishEvent, LlmLogitsEvent, ProtocolRecord } from './protocol-events.js';
import { failWith as failStep } from './work-failure.js';

interface AsyncClientPolicy {
  /** How long to wait, after uploading, for a version newer than the upload's. */
  llmLogitsDeadlineMs: number;
  onMissingLLMLogits: 'self-distil' | 'skip';
  /** Silence from the server after which it is declared gone. */
  serverSilenceMs: number;
}

export interface AsyncClientInput {
  id: ActorId;
  /** LLM versions the server publishes: after taking the last the client only waits for the finish. */
  totalRounds: number;
  policy: AsyncClientPolicy;
}

export interface AsyncClientContext extends AsyncClientInput {
  /** The LLM version the client last took (0: none yet); its uploads are tagged with it. */
  round: number;
  /** The newest LLM logits received and not yet taken. */
  latest: { version: number; messageId: string; logits: PublicLogits } | null;
  /** Step 2 output of this pass. */
  ownLogits: PublicLogits | null;
  /** Step 7 output. */
  llmTeacher: AlignedTeacher | null;
  /** Waits in a row that ended without a new version (the server may be gone). */
  missedInARow: number;
  finishRequested: boolean;
  failure: string | null;
}

export type AsyncClientEvent = LlmLogitsEvent | FinishEvent;

type WorkInput = { round: number };

/** The work the actor layer supplies (actors/async-client-actor.ts); the same steps as a sync client's. */
export interface AsyncClientWork {
  trainPrivate(input: WorkInput): Promise<{ loss: number }>;
  computePublicLogits(input: WorkInput): Promise<{ logits: PublicLogits }>;
  /** Step 2b: upload, tagged with LLM version `round`. */
  uploadLogits(input: WorkInput & { logits: PublicLogits }): Promise<void>;
  alignLLMTokens(input: WorkInput & { llmLogits: PublicLogits; ownLogits: PublicLogits }): Promise<{ teacher: AlignedTeacher }>;
  distillFromLLM(input: WorkInput & { llmTeacher: AlignedTeacher | null; ownLogits: PublicLogits }): Promise<{ loss: number }>;
  /** Measurement: after taking version `round` (0: zero-shot). */
  evaluate(input: WorkInput): Promise<void>;
}

function notProvided<K extends keyof AsyncClientWork>(name: K) {
  return fromPromise<Awaited<ReturnType<AsyncClientWork[K]>>, Parameters<AsyncClientWork[K]>[0]>(async () => {
    throw new Error(`async client work "${name}" was not provided: supply it with asyncClientMachine.provide({ actors })`);
  });
}

const failWith = (step: string) => failStep<AsyncClientContext, AsyncClientEvent>(step);

export const asyncClientMachine = setup({
  types: {
    context: {} as AsyncClientContext,
    events: {} as AsyncClientEvent,
    input: {} as AsyncClientInput,
    emitted: {} as ProtocolRecord,
  },
  actors: {
    trainPrivate: notProvided('trainPrivate'),
    computePublicLogits: notProvided('computePublicLogits'),
    uploadLogits: notProvided('uploadLogits'),
    alignLLMTokens: notProvided('alignLLMTokens'),
    distillFromLLM: notProvided('distillFromLLM'),
    evaluate: notProvided('evaluate'),
  },
  delays: {
    llmLogitsDeadline: ({ context }) => context.policy.llmLogitsDeadlineMs,
    serverSilence: ({ context }) => context.policy.serverSilenceMs,
  },
  guards: {
    /** A version newer than the one this client's upload was made against. */
    newerVersion: ({ context }) => context.latest !== null && context.latest.version > context.round,
    finishRequested: ({ context }) => context.finishRequested,
    /** The last version is taken: no newer one will come, only the finish. */
    lastVersionTaken: ({ context }) => context.round >= context.totalRounds,
    selfDistilWhenMissing: ({ context }) => context.policy.onMissingLLMLogits === 'self-distil',
    /** Waits in a row without a version added up to the server's silence. */
    serverSilent: ({ context }) => (context.missedInARow + 1) * context.policy.llmLogitsDeadlineMs >= context.policy.serverSilenceMs,
  },
  actions: {
    /** Kept when newer than anything the client has; an older or repeated version changes nothing. */
    noteLLMLogits: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'LLM_LOGITS') return;
      const newest = Math.max(context.round, context.latest?.version ?? 0);
      if (event.round > newest && event.round <= context.totalRounds) {
        enqueue.assign({ latest: { version: event.round, messageId: event.messageId, logits: event.logits } });
        enqueue.emit({ type: 'accepted', round: event.round, messageId: event.messageId, sender: event.sender, message: 'llm-logits' });
        return;
      }
      const reason =
        event.round > context.totalRounds ? 'unexpected' : event.round === newest && context.latest?.messageId === event.messageId ? 'duplicate' : 'late';
      enqueue.emit({
        type: 'ignored',
        round: event.round,
        atRound: context.round,
        messageId: event.messageId,
        sender: event.sender,
        message: 'llm-logits',
        reason,
      });
    }),
    takeLatest: assign(({ context }) => ({ round: context.latest?.version ?? context.round, missedInARow: 0 })),
    /** A pass's outputs are not kept into the next. */
    clearPass: assign({ llmTeacher: null, ownLogits: null }),
    acknowledgeFinish: (_, _params: { round: number }) => undefined,
  },
}).createMachine({
  id: 'asyncClient',
  context: ({ input }) => ({
    ...input,
    round: 0,
    latest: null,
    ownLogits: null,
    llmTeacher: null,
    missedInARow: 0,
    finishRequested: false,
    failure: null,
  }),
  initial: 'evaluateZeroShot',
  on: {
    LLM_LOGITS: { actions: 'noteLLMLogits' },
    FINISH: [
      {
        guard: 'finishRequested',
        actions: [emit(({ context, event }) => ignoredFinish(context, event)), { type: 'acknowledgeFinish', params: ({ event }) => ({ round: event.round }) }],
      },
      {
        actions: [
          assign({ finishRequested: true }),
          emit(({ event }) => ({ type: 'accepted' as const, round: event.round, messageId: event.messageId, sender: event.sender, message: 'finish' })),
          { type: 'acknowledgeFinish', params: ({ event }) => ({ round: event.round }) },
        ],
      },
    ],
  },
  states: {
    evaluateZeroShot: {
      invoke: {
        id: 'evaluate',
        src: 'evaluate',
        input: () => ({ round: 0 }),
        onDone: 'round',
        onError: { target: 'failed', actions: failWith('evaluate') },
      },
    },
    /** One pass after another, until the finish (or the last version) is reached between two. */
    round: {
      initial: 'nextPass',
      states: {
        nextPass: {
          always: [
            { guard: 'finishRequested', target: '#asyncClient.done' },
            { guard: 'lastVersionTaken', target: '#asyncClient.waitForFinish' },
            { target: 'trainPrivate' },
          ],
        },
        trainPrivate: {
          invoke: {
            id: 'trainPrivate',
            src: 'trainPrivate',
            input: ({ context }) => ({ round: context.round }),
            onDone: 'computePublicLogits',
            onError: { target: '#asyncClient.failed', actions: failWith('trainPrivate') },
          },
        },
        computePublicLogits: {
          invoke: {
            id: 'computePublicLogits',
            src: 'computePublicLogits',
            input: ({ context }) => ({ round: context.round }),
            onDone: { target: 'uploadLogits', actions: assign({ ownLogits: ({ event }) => event.output.logits }) },
            onError: { target: '#asyncClient.failed', actions: failWith('computePublicLogits') },
          },
        },
        uploadLogits: {
          invoke: {
            id: 'uploadLogits',
            src: 'uploadLogits',
            input: ({ context }) => ({ round: context.round, logits: context.ownLogits as PublicLogits }),
            onDone: 'awaitLLMLogits',
            onError: { target: '#asyncClient.failed', actions: failWith('uploadLogits') },
          },
        },
        /** A newer version may already be here (the client was slow): then it is taken at once. */
        awaitLLMLogits: {
          always: [
            { guard: 'newerVersion', target: 'alignLLMTokens', actions: 'takeLatest' },
            { guard: 'finishRequested', target: '#asyncClient.done' },
          ],
          after: {
            llmLogitsDeadline: [
              {
                guard: 'serverSilent',
                target: '#asyncClient.failed',
                actions: assign({ failure: () => 'server gone: no new LLM version before the silence deadline' }),
              },
              {
                target: 'llmLogitsMissing',
                actions: [
                  assign({ missedInARow: ({ context }) => context.missedInARow + 1 }),
                  emit(({ context }) => ({
                    type: 'deadline' as const,
                    round: context.round,
                    state: 'awaitLLMLogits',
                    action: context.policy.onMissingLLMLogits,
                  })),
                ],
              },
            ],
          },
        },
        llmLogitsMissing: {
          always: [
            { guard: 'selfDistilWhenMissing', target: 'distillFromLLM' },
            { target: 'nextPass', actions: 'clearPass' },
          ],
        },
        alignLLMTokens: {
          invoke: {
            id: 'alignLLMTokens',
            src: 'alignLLMTokens',
            input: ({ context }) => ({ round: context.round, llmLogits: context.latest?.logits as PublicLogits, ownLogits: context.ownLogits as PublicLogits }),
            onDone: { target: 'distillFromLLM', actions: assign({ llmTeacher: ({ event }) => event.output.teacher, latest: null }) },
            onError: { target: '#asyncClient.failed', actions: failWith('alignLLMTokens') },
          },
        },
        distillFromLLM: {
          invoke: {
            id: 'distillFromLLM',
            src: 'distillFromLLM',
            input: ({ context }) => ({ round: context.round, llmTeacher: context.llmTeacher, ownLogits: context.ownLogits as PublicLogits }),
            // A pass that took a version is measured; a self-distilled one is not (no new round).
            onDone: [{ guard: ({ context }) => context.llmTeacher === null, target: 'nextPass', actions: 'clearPass' }, { target: 'roundEnd' }],
            onError: { target: '#asyncClient.failed', actions: failWith('distillFromLLM') },
          },
        },
        roundEnd: {
          invoke: {
            id: 'evaluate',
            src: 'evaluate',
            input: ({ context }) => ({ round: context.round }),
            onDone: { target: 'nextPass', actions: 'clearPass' },
            onError: { target: '#asyncClient.failed', actions: failWith('evaluate') },
          },
        },
      },
    },
    /** The last version is taken; the client ends when the server announces the finish. */
    waitForFinish: {
      always: { guard: 'finishRequested', target: 'done' },
      after: {
        serverSilence: {
          target: 'failed',
          actions: assign({ failure: () => 'server gone: no finish announced after the last version before the silence deadline' }),
        },
      },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
});

function ignoredFinish(context: AsyncClientContext, event: FinishEvent): ProtocolRecord {
  return {
    type: 'ignored',
    round: event.round,
    atRound: context.round,
    messageId: event.messageId,
    sender: event.sender,
    message: 'finish',
    reason: 'duplicate',
  };
}
