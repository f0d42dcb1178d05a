/**
 * Observability over a shared transport: every actor publishes the records it writes to
 * events.jsonl on `fedmkt.<run>.events.<actor>`, so one observer sees the whole federation.
 */
import { eventsSubject } from '../core/protocol/subjects.js';
import type { Transport } from '../core/transport/transport.js';
import type { RunEvent } from '../core/records.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An `onEvent` listener publishing each event as one JSON document. Failures are reported, never thrown. */
export function publishEvents(transport: Transport, run: string, onError: (error: Error) => void = () => undefined): (event: RunEvent) => void {
  let sequence = 0;
  // Unique across processes too, so that an observer's de-duplication never drops the events of
  // a process that replaced another (a resumed deployment).
  const origin = `${process.pid.toString(36)}.${Date.now().toString(36)}`;
  return (event) => {
    const data = encoder.encode(JSON.stringify(event));
    transport
      .publish(eventsSubject(run, event.actor), data, { sender: event.actor, messageId: `${event.actor}:events:${origin}:${++sequence}` })
      .catch((error: unknown) => onError(error as Error));
  };
}

/** Subscribe to the events of `run` (every actor's, or one's); malformed documents are reported and skipped. */
export function watchEvents(
  transport: Transport,
  run: string,
  onEvent: (event: RunEvent) => void,
  onBad: (why: string) => void = () => undefined,
  actor = '*',
): { unsubscribe(): void } {
  return transport.subscribe(eventsSubject(run, actor), ({ subject, data }) => {
    let event: unknown;
    try {
      event = JSON.parse(decoder.decode(data));
    } catch {
      onBad(`${subject}: not a JSON event (${data.byteLength} bytes)`);
      return;
    }
    const e = event as Partial<RunEvent>;
    if (typeof e.actor !== 'string' || typeof e.kind !== 'string' || typeof e.t !== 'number') {
      onBad(`${subject}: an event needs actor, kind and t`);
      return;
    }
    onEvent(event as RunEvent);
  });
}
