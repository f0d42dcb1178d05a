/**
 * What a run leaves behind. `events.jsonl` and `metrics.jsonl` hold only virtual-time and
 * seeded figures, so the same scenario and seed write byte-identical files; wall-clock
 * figures go to `timings.jsonl` alone.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import type { RoundMetrics, RunEvent, Timing } from '../core/records.js';

export type EventListener = (event: RunEvent) => void;

/** What a run has recorded: also what a resumed run takes over from the one it resumes. */
export interface RunRecords {
  events: RunEvent[];
  metrics: RoundMetrics[];
  timings: Timing[];
}

type FileName = 'events.jsonl' | 'metrics.jsonl' | 'timings.jsonl';

export class RunRecorder {
  readonly events: RunEvent[] = [];
  readonly metrics: RoundMetrics[] = [];
  readonly timings: Timing[] = [];
  private readonly listeners: EventListener[] = [];
  private files: Record<FileName, number> | null = null;
  private muted = false;

  /** `<actor>/<message id>` of every accepted message, for the state of a run under exploration. */
  private readonly accepted: string[] = [];

  event(event: RunEvent): void {
    if (this.muted) return;
    this.events.push(event);
    if (event.kind === 'accepted') this.accepted.push(`${event.actor}/${String(event.messageId)}`);
    this.append('events.jsonl', event);
    for (const l of this.listeners) l(event);
  }

  /** What the invariants remember of the run so far (messages accepted): part of its state. */
  acceptedDigest(): string {
    return [...this.accepted].sort().join(',');
  }

  metric(m: RoundMetrics): void {
    if (this.muted) return;
    this.metrics.push(m);
    this.append('metrics.jsonl', m);
  }

  timing(t: Timing): void {
    this.timings.push(t);
    this.append('timings.jsonl', t);
  }

  /**
   * While muted, events and metrics are not recorded: a resumed population run replays the
   * rounds of clients still busy at its checkpoint from their start, and what they did before
   * the checkpoint is in the records already.
   */
  mute(on: boolean): void {
    this.muted = on;
  }

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  /**
   * From now on write every record to events.jsonl, metrics.jsonl and timings.jsonl in `dir`
   * as it is made (a run that dies leaves its records so far), starting the files with what
   * was recorded before and with `earlier` (the records a resumed run takes over).
   */
  streamTo(dir: string, earlier?: RunRecords): void {
    if (this.files) throw new Error('RunRecorder: already writing its files');
    if (earlier) {
      this.events.unshift(...earlier.events);
      this.metrics.unshift(...earlier.metrics);
      this.timings.unshift(...earlier.timings);
    }
    mkdirSync(dir, { recursive: true });
    const open = (name: FileName, rows: readonly object[]): number => {
      const fd = openSync(join(dir, name), 'w');
      for (const row of rows) writeSync(fd, `${JSON.stringify(row)}\n`);
      return fd;
    };
    this.files = {
      'events.jsonl': open('events.jsonl', this.events),
      'metrics.jsonl': open('metrics.jsonl', this.metrics),
      'timings.jsonl': open('timings.jsonl', this.timings),
    };
  }

  /** Stop writing the files (every record is already in them). */
  close(): void {
    if (!this.files) return;
    for (const fd of Object.values(this.files)) closeSync(fd);
    this.files = null;
  }

  private append(name: FileName, row: object): void {
    if (this.files) writeSync(this.files[name], `${JSON.stringify(row)}\n`);
  }
}
