import { hexOf, scanMessage } from '../../protocol/message-scan.js';
import { decodeFrame } from './frame.js';
import type { NatsTransportLogger } from './logger.js';

export interface ReassemblerOptions {
  /** A partial message that receives no chunk for this long is dropped. */
  timeoutMs: number;
  /** Largest payload accepted (a frame declaring more is dropped before anything is allocated). */
  maxMessageBytes: number;
  /** How many delivered message ids are remembered for de-duplication. */
  dedupCapacity: number;
  logger: NatsTransportLogger;
  /** Names the subscription in log lines. */
  context: string;
  /** Called when a partial message is dropped (timeout or conflict) so callers can release what they hold for it. */
  onDiscard?: (key: string) => void;
}

export interface ReassembledMessage {
  subject: string;
  sender: string;
  messageId: string;
  data: Uint8Array;
}

export type FrameOutcome =
  | { kind: 'malformed'; reason: string }
  | { kind: 'partial'; key: string }
  | { kind: 'complete'; key: string; message: ReassembledMessage }
  /** A chunk of a message already delivered (a retry); `lastChunk` lets the receiver re-acknowledge once per retry. */
  | { kind: 'duplicate'; key: string; sender: string; messageId: string; lastChunk: boolean }
  | { kind: 'corrupt'; key: string; sender: string; messageId: string; reason: string };

interface Partial {
  total: number;
  count: number;
  checksum: string;
  buffer: Uint8Array;
  seen: Uint8Array;
  receivedChunks: number;
  receivedBytes: number;
  timer: NodeJS.Timeout;
}

/**
 * Reassembles chunked messages of one subscription: checks each frame, collects chunks by
 * index (duplicated chunks of a retry are ignored), verifies the checksum of the whole and
 * remembers delivered message ids so that a retried message is delivered once.
 */
export class Reassembler {
  private readonly partials = new Map<string, Partial>();
  private readonly delivered = new Map<string, true>();

  constructor(private readonly options: ReassemblerOptions) {}

  accept(subject: string, data: Uint8Array): FrameOutcome {
    const decoded = decodeFrame(data);
    if (!decoded.ok) {
      this.options.logger.error(`dropped a malformed frame on "${subject}" (subscription ${this.options.context}): ${decoded.reason}`);
      return { kind: 'malformed', reason: decoded.reason };
    }
    const frame = decoded.frame;
    const key = `${subject}\n${frame.sender}\n${frame.messageId}`;
    const what = `message ${frame.messageId} from ${frame.sender} on "${subject}"`;
    if (this.delivered.has(key)) {
      return { kind: 'duplicate', key, sender: frame.sender, messageId: frame.messageId, lastChunk: frame.index === frame.count - 1 };
    }
    if (frame.total > this.options.maxMessageBytes) {
      const reason = `${what} declares ${frame.total} bytes, above the limit of ${this.options.maxMessageBytes}; dropped`;
      this.options.logger.error(reason);
      return { kind: 'malformed', reason };
    }
    let partial = this.partials.get(key);
    if (partial && (partial.total !== frame.total || partial.count !== frame.count || partial.checksum !== frame.checksum)) {
      this.options.logger.error(
        `chunk ${frame.index} of ${what} disagrees with the chunks received before (size, chunk count or checksum); restarting its reassembly`,
      );
      this.discard(key);
      partial = undefined;
    }
    if (!partial) {
      partial = {
        total: frame.total,
        count: frame.count,
        checksum: frame.checksum,
        buffer: new Uint8Array(frame.total),
        seen: new Uint8Array(frame.count),
        receivedChunks: 0,
        receivedBytes: 0,
        timer: this.startTimer(key, what),
      };
      this.partials.set(key, partial);
    } else {
      partial.timer.refresh();
    }
    if (partial.seen[frame.index] === 1) return { kind: 'partial', key };
    partial.seen[frame.index] = 1;
    partial.receivedChunks++;
    partial.receivedBytes += frame.body.length;
    partial.buffer.set(frame.body, frame.offset);
    if (partial.receivedChunks < partial.count) return { kind: 'partial', key };

    clearTimeout(partial.timer);
    this.partials.delete(key);
    const actual = hexOf(scanMessage(partial.buffer, partial.total).checksum);
    if (partial.receivedBytes !== partial.total || actual !== partial.checksum) {
      const reason =
        partial.receivedBytes !== partial.total
          ? `its ${partial.count} chunks hold ${partial.receivedBytes} bytes, not the declared ${partial.total}`
          : `checksum of the reassembled ${partial.total} bytes is ${actual}, the sender declared ${partial.checksum}`;
      this.options.logger.error(`integrity check failed for ${what}: ${reason}; dropped`);
      return { kind: 'corrupt', key, sender: frame.sender, messageId: frame.messageId, reason };
    }
    this.remember(key);
    return {
      kind: 'complete',
      key,
      message: { subject, sender: frame.sender, messageId: frame.messageId, data: partial.buffer },
    };
  }

  /** Messages still being reassembled. */
  get pending(): number {
    return this.partials.size;
  }

  close(): void {
    for (const key of [...this.partials.keys()]) this.discard(key);
  }

  private startTimer(key: string, what: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const partial = this.partials.get(key);
      if (!partial) return;
      this.options.logger.error(
        `reassembly of ${what} timed out: ${partial.receivedChunks} of ${partial.count} chunks ` +
          `(${partial.receivedBytes} of ${partial.total} bytes) arrived, none in the last ${this.options.timeoutMs} ms; dropped`,
      );
      this.discard(key);
    }, this.options.timeoutMs);
    timer.unref();
    return timer;
  }

  private discard(key: string): void {
    const partial = this.partials.get(key);
    if (!partial) return;
    clearTimeout(partial.timer);
    this.partials.delete(key);
    this.options.onDiscard?.(key);
  }

  private remember(key: string): void {
    this.delivered.set(key, true);
    if (this.delivered.size > this.options.dedupCapacity) {
      const oldest = this.delivered.keys().next();
      if (!oldest.done) this.delivered.delete(oldest.value);
    }
  }
}
