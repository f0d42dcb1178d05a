/**
 * Stretches of a lane that are not states: an actor offline (from its dropout to its rejoin,
 * from its crash to its restart) and an actor cut off by a partition (recorded by the
 * `network` pseudo-actor, drawn on the lanes of the actors it names).
 */
import { isPseudoActor } from '../../core/pseudo-actors.js';
import type { RecordedEvent } from './read-run.js';
import { escapeXml } from '../../core/format.js';
import { formatDuration, n1 } from './svg.js';

export interface Span {
  kind: 'offline' | 'cut';
  actor: string;
  t0: number;
  /** Null: to the end of the run. */
  t1: number | null;
  why: string;
}

const WENT = new Set(['dropout', 'crash']);
const CAME_BACK = new Set(['rejoin', 'restart']);

/** The spans of a run, and each partition's start and end as a marker on every actor it cut off. */
export function actorSpans(events: readonly RecordedEvent[]): { spans: Span[]; partitionMarkers: RecordedEvent[] } {
  const spans: Span[] = [];
  const open = new Map<string, Span>();
  const cuts = new Map<string, Span>();
  const partitionMarkers: RecordedEvent[] = [];
  for (const e of events) {
    const t = Number(e.t);
    if (WENT.has(e.kind) && !open.has(e.actor)) {
      const span: Span = {
        kind: 'offline',
        actor: e.actor,
        t0: t,
        t1: null,
        why: `${e.kind} in round ${e.round}${typeof e.state === 'string' ? ` at ${e.state}` : ''}`,
      };
      open.set(e.actor, span);
      spans.push(span);
    } else if (CAME_BACK.has(e.kind)) {
      const span = open.get(e.actor);
      if (span) span.t1 = t;
      open.delete(e.actor);
    } else if (e.kind === 'partition' && isPseudoActor(e.actor) && Array.isArray(e.actors)) {
      for (const actor of e.actors.map(String)) {
        partitionMarkers.push({ ...e, actor });
        const key = `${String(e.partition)}/${actor}`;
        if (e.phase === 'start') {
          const span: Span = {
            kind: 'cut',
            actor,
            t0: t,
            t1: null,
            why: `partition ${String(e.partition)}: ${e.actors.map(String).join(', ')} cut off from the others`,
          };
          cuts.set(key, span);
          spans.push(span);
        } else if (e.phase === 'end') {
          const span = cuts.get(key);
          if (span) span.t1 = t;
          cuts.delete(key);
        }
      }
    }
  }
  return { spans, partitionMarkers };
}

/** The spans on the drawn lanes: offline opaque over the state bars, partitions as a light hatch. */
export function drawSpans(
  spans: readonly Span[],
  lane: (actor: string) => { y: number; h: number } | undefined,
  x: (t: number) => number,
  end: number,
): string {
  return spans
    .map((s) => {
      const at = lane(s.actor);
      if (!at) return '';
      const t1 = s.t1 ?? end;
      const xa = x(s.t0);
      const title = `${s.actor}: ${s.kind === 'offline' ? `offline (${s.why})` : s.why}, ${formatDuration(s.t0)} to ${s.t1 === null ? 'the end' : formatDuration(t1)}`;
      return `<rect class="span-${s.kind}" x="${n1(xa)}" y="${at.y}" width="${n1(Math.max(x(t1) - xa, 1))}" height="${at.h}" fill="url(#${s.kind})"><title>${escapeXml(title)}</title></rect>`;
    })
    .join('');
}
