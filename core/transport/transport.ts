/**
 * One transport interface for every deployment: the in-memory transport (virtual clock)
 * and the NATS transport (wall clock) both implement it, so machines and actors never know
 * which one carries their bytes. Subjects follow core/protocol/subjects.ts.
 */
export interface TransportMessage {
  subject: string;
  data: Uint8Array;
}

export type MessageHandler = (message: TransportMessage) => void;

export interface Subscription {
  unsubscribe(): void;
}

export interface PublishOptions {
  /**
   * Sender's actor id; the in-memory transport uses it for the sender's link profile
   * (bandwidth, latency), the NATS transport for the dedup key of acknowledged uploads.
   */
  sender: string;
  /** Message id (envelope id), for de-duplication of retried publishes. */
  messageId: string;
}

export interface Transport {
  /**
   * Hand bytes to the transport. Resolves when the transport has taken responsibility for
   * them (for acknowledged NATS uploads: when the server's side has acknowledged them).
   */
  publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<void>;
  /** Subscribe with NATS wildcards (`*` one token, `>` the rest). */
  subscribe(pattern: string, handler: MessageHandler): Subscription;
  close(): Promise<void>;
}
