/**
 * The server's rules for the step-2 uploads it collects (machines/server.ts): whose upload counts
 * toward the open round, and why another is ignored (late, future, a duplicate, not selected), the
 * staleness policy's late uploads included. Pure functions of the server's context.
 */
import type { ActorId, PublicLogits } from '../core/protocol/messages.js';
import { bookGet, bookHas, bookIds, type UploadBook } from '../core/upload-book.js';
import type { AdapterEvent, IgnoreReason, ProtocolRecord, SlmLogitsEvent } from './protocol-events.js';

/** An accepted step-2 upload. */
export interface Upload {
  messageId: string;
  logits: PublicLogits;
  /** The round it was made for (earlier than the open round when the staleness policy took it late). */
  madeFor: number;
}

/** What the rules read of the server's context. */
export interface Collection {
  round: number;
  clients: readonly ActorId[];
  perRound?: number;
  selected: readonly ActorId[];
  uploads: UploadBook<Upload>;
  acceptedEarlier: { client: ActorId; madeFor: number }[];
  adapters: Readonly<Record<ActorId, unknown>>;
  policy: { lateAcceptWithinRounds?: number };
}

/** A listed client, or any sender in a population run (the endpoint rejects senders outside the population). */
export function isMember(context: Collection, sender: ActorId): boolean {
  return context.perRound !== undefined || context.clients.includes(sender);
}

/** Uploads that close the collection: every listed client's, or a population's `perRound` (fewer when fewer were reachable). */
export function uploadsAwaited(context: Collection): number {
  return context.perRound === undefined ? context.clients.length : Math.min(context.perRound, context.selected.length);
}

/** Uploads in announcement order (late ones the staleness policy took, after). */
export function uploadOrder(context: Collection): ActorId[] {
  if (context.perRound === undefined) return context.clients.filter((c) => bookHas(context.uploads, c));
  const announced = context.selected.filter((c) => bookHas(context.uploads, c));
  return announced.length === context.uploads.size ? announced : [...announced, ...bookIds(context.uploads).filter((c) => !context.selected.includes(c))];
}

export function rejectReason(context: Collection, event: SlmLogitsEvent | AdapterEvent, alreadyHave: boolean): IgnoreReason | null {
  if (!isMember(context, event.sender)) return 'unknown-sender';
  if (event.round < context.round) return acceptedBefore(context, event) ? 'duplicate' : 'late';
  if (event.round > context.round) return 'future';
  if (alreadyHave) return 'duplicate';
  // Adapters come from the clients whose logits were taken, late ones included.
  const took = event.type === 'ADAPTER' ? bookHas(context.uploads, event.sender) : context.selected.includes(event.sender);
  return context.perRound !== undefined && !took ? 'not-selected' : null;
}

export function isAcceptableLate(context: Collection, event: SlmLogitsEvent): boolean {
  const k = context.round - event.round;
  return (
    k > 0 &&
    k <= (context.policy.lateAcceptWithinRounds ?? 0) &&
    isMember(context, event.sender) &&
    !bookHas(context.uploads, event.sender) &&
    !acceptedBefore(context, event)
  );
}

/** The step-2 upload `event` is a copy of one accepted in an earlier round (within the staleness window). */
function acceptedBefore(context: Collection, event: SlmLogitsEvent | AdapterEvent): boolean {
  return event.type === 'SLM_LOGITS' && context.acceptedEarlier.some((u) => u.client === event.sender && u.madeFor === event.round);
}

/** As `round` opens: the uploads accepted so far that a late copy arriving in it or later could still be taken for. */
export function acceptedWithinWindow(context: Collection, round: number): Collection['acceptedEarlier'] {
  const window = context.policy.lateAcceptWithinRounds ?? 0;
  if (window === 0) return [];
  const closing = bookIds(context.uploads).map((client) => ({ client, madeFor: (bookGet(context.uploads, client) as Upload).madeFor }));
  return [...context.acceptedEarlier, ...closing].filter((u) => round - u.madeFor <= window);
}

/** Accepted toward the open round (`round`); `msgRound` is the round the upload was made for. */
export function lateAccepted(context: Collection, event: SlmLogitsEvent): ProtocolRecord {
  const record: Extract<ProtocolRecord, { type: 'accepted' }> & { msgRound: number } = {
    type: 'accepted',
    round: context.round,
    messageId: event.messageId,
    sender: event.sender,
    message: 'slm-logits',
    msgRound: event.round,
  };
  return record;
}

export function closedReason(context: Collection, event: SlmLogitsEvent | AdapterEvent): IgnoreReason {
  if (!isMember(context, event.sender)) return 'unknown-sender';
  if (event.round > context.round) return 'future';
  if (event.round < context.round) return acceptedBefore(context, event) ? 'duplicate' : 'late';
  // Same round, but collection has closed (deadline passed or everyone was in).
  const have = event.type === 'SLM_LOGITS' ? bookHas(context.uploads, event.sender) : event.sender in context.adapters;
  return have ? 'duplicate' : 'late';
}
