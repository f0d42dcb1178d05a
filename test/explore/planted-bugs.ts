/**
 * Broken versions of the protocol, each with one bug a careful implementer could make, supplied
 * the way any variant is: through `provide` on the real machines, or a restart hook. The
 * explorer's self-check: it must find each one and shrink it to a few faults.
 */
import { enqueueActions } from 'xstate';
import type { MachineVariants } from '../../actors/federation.js';
import { clientMachine } from '../../machines/client.js';
import { serverMachine } from '../../machines/server.js';
import { bookHas, bookWith, emptyBook } from '../../core/upload-book.js';

export interface PlantedBug {
  name: string;
  what: string;
  machines: MachineVariants;
  /** The finding that shows it first. */
  property: string;
}

export const PLANTED_BUGS: PlantedBug[] = [
  {
    name: 'duplicates-counted',
    what: 'the server counts every copy of an upload, duplicates included',
    machines: {
      server: serverMachine.provide({
        actions: {
          takeUpload: enqueueActions(({ context, event, enqueue }) => {
            if (event.type !== 'SLM_LOGITS' || event.round !== context.round || !context.clients.includes(event.sender)) return;
            enqueue.assign({ uploads: bookWith(context.uploads, event.sender, { messageId: event.messageId, logits: event.logits, madeFor: event.round }) });
            enqueue.emit({ type: 'accepted', round: event.round, messageId: event.messageId, sender: event.sender, message: 'slm-logits' });
          }),
        },
      }),
    },
    property: 'invariant:once',
  },
  {
    name: 'below-quorum',
    what: 'the server proceeds at the deadline whatever the number of uploads',
    machines: { server: serverMachine.provide({ guards: { quorumMet: () => true } }) },
    property: 'invariant:quorum',
  },
  {
    name: 'old-broadcast-accepted',
    what: "a client takes an older round's LLM logits when it has none for its round",
    machines: {
      client: clientMachine.provide({
        guards: { isLLMLogitsForThisRound: ({ context, event }) => event.type === 'LLM_LOGITS' && event.round <= context.round && context.llmLogits === null },
      }),
    },
    property: 'invariant:round',
  },
  {
    name: 'no-llm-logits-deadline',
    what: 'a client waits for the LLM logits without a deadline',
    machines: { client: clientMachine.provide({ delays: { llmLogitsDeadline: () => 1e12 } }) },
    // Where the logits never come (the server crashed for good), the client never leaves the state.
    property: 'invariant:known-state',
  },
  {
    name: 'restart-forgets-uploads',
    what: 'a restarted server comes back without the uploads it had accepted',
    machines: {
      onRestore: (actor, snapshot) => {
        if (actor !== 'server') return snapshot;
        const s = snapshot as { context: Record<string, unknown> };
        return { ...s, context: { ...s.context, uploads: emptyBook() } };
      },
    },
    property: 'invariant:kept',
  },
  {
    name: 'late-upload-wrong-round',
    what: "the server counts an earlier round's upload toward the open round, outside the staleness bound",
    machines: {
      server: serverMachine.provide({
        guards: {
          acceptableLateUpload: ({ context, event }) => event.type === 'SLM_LOGITS' && event.round < context.round && !bookHas(context.uploads, event.sender),
        },
      }),
    },
    property: 'invariant:round',
  },
];
