/**
 * What the timeline draws, taken from a run's events in one pass: each actor's states as
 * intervals, sends by message id and their deliveries, faults, offline and cut-off spans, the
 * lanes (every actor, or beyond `maxLanes` the servers and a few sample clients), round starts,
 * and the time scale that squeezes the stretches in which everyone waits.
 */
import { isPseudoActor } from '../../core/pseudo-actors.js';
import type { RecordedEvent } from './read-run.js';
import { actorSpans, type Span } from './spans.js';
import { naturalCompare } from '../../core/format.js';
import { mergeIntervals, timeScale, type TimeScale } from './time-scale.js';

export interface TimelineDataOptions {
  /** Draw every actor in its own lane up to this many actors (default 40). */
  maxLanes?: number;
  /** Clients kept as detailed lanes when aggregating (default 8). */
  sampleLanes?: number;
  /** Squeeze stretches in which nothing is recorded (waiting out a deadline) to a narrow marked band (default true). */
  compressIdle?: boolean;
}

/** Kinds that are the normal course of a run; every other kind is drawn as a fault marker. */
const NON_FAULT_KINDS: ReadonlySet<string> = new Set([
  'state',
  'send',
  'deliver',
  'accepted',
  'selected',
  'alignment',
  'presence',
  'resume-offer',
  'resume-cut',
]);

/** An actor entered `state` at `t`: the interval lasts until its next mark (or the end of the run). */
export interface StateMark {
  t: number;
  state: string;
  round: number;
}
interface Send {
  t: number;
  actor: string;
  type: string;
  bytes: number;
  round: number;
}
export interface Deliver {
  t: number;
  actor: string;
  id: string;
  from: string;
  type: string;
  bytes: number;
}

export interface TimelineData {
  /** State marks per actor, in time order. */
  states: Map<string, StateMark[]>;
  sends: Map<string, Send>;
  delivers: Deliver[];
  /** Fault events (every kind not in NON_FAULT_KINDS), pseudo-actors' included. */
  faults: RecordedEvent[];
  /** The faults drawn on lanes: those of real actors, and each partition's markers on the actors it cut off. */
  drawnFaults: RecordedEvent[];
  faultCounts: Record<string, number>;
  faultKinds: string[];
  spans: Span[];
  /** Every actor seen, servers first. */
  actors: string[];
  servers: string[];
  clients: string[];
  isServer: (actor: string) => boolean;
  aggregated: boolean;
  /** Actors drawn as lanes, top to bottom. */
  lanes: string[];
  /** States in the order first entered, and message types sorted. */
  stateNames: string[];
  messageTypes: string[];
  /** When the server (or, without one, the first actor) entered each round. */
  roundStarts: Map<number, number>;
  t0: number;
  t1: number;
  scale: TimeScale;
}

/** States in which an actor waits for others (or has stopped): time there may be squeezed. */
const WAITING = /(^|\.)(await|waitFor)|^(done|failed|roundComplete|roundSkipped)$|\.(applied|skipped|averaged)$/;

export function timelineData(events: readonly RecordedEvent[], roles: ReadonlyMap<string, string>, options: TimelineDataOptions = {}): TimelineData {
  const { states, sends, delivers, faults, actorSet, stateOrder, times } = readEvents(events);
  let { t0, t1 } = times;
  const faultCounts: Record<string, number> = {};
  for (const f of faults) faultCounts[f.kind] = (faultCounts[f.kind] ?? 0) + 1;
  // A partition is drawn on the lanes of the actors it cut off, not on a lane of its own.
  const { spans, partitionMarkers } = actorSpans(events);
  const drawnFaults = [...faults.filter((f) => !isPseudoActor(f.actor)), ...partitionMarkers];
  if (!Number.isFinite(t0)) {
    t0 = 0;
    t1 = 1;
  }
  if (t1 <= t0) t1 = t0 + 1;
  for (const list of states.values()) if (!isSorted(list)) list.sort((a, b) => a.t - b.t);

  const isServer = (a: string) => roles.get(a) === 'server' || (!roles.has(a) && a === 'server');
  const actors = [...actorSet].sort((a, b) => Number(isServer(b)) - Number(isServer(a)) || naturalCompare(a, b));
  const servers = actors.filter(isServer);
  const clients = actors.filter((a) => !isServer(a));
  const aggregated = actors.length > (options.maxLanes ?? 40);
  const lanes = aggregated ? [...servers, ...clients.slice(0, options.sampleLanes ?? 8)] : actors;
  const messageTypes = [...new Set([...sends.values()].map((s) => s.type).concat(delivers.map((d) => d.type)))].sort();

  // Working states keep time at full width; only stretches where everyone waits are squeezed.
  const busy: [number, number][] = [];
  for (const list of states.values())
    for (let k = 0; k < list.length; k++) {
      const s = list[k]!;
      const end = list[k + 1]?.t ?? s.t;
      if (end > s.t && !WAITING.test(s.state)) busy.push([s.t, end]);
    }
  const scale = timeScale(times.values, t0, t1, { compress: options.compressIdle ?? true, busy: mergeIntervals(busy) });

  const roundStarts = new Map<number, number>();
  const boundaryActors = servers.length ? servers : actors.slice(0, 1);
  for (const a of boundaryActors) for (const s of states.get(a) ?? []) if (s.round > 0 && !roundStarts.has(s.round)) roundStarts.set(s.round, s.t);

  return {
    states,
    sends,
    delivers,
    faults,
    drawnFaults,
    faultCounts,
    faultKinds: Object.keys(faultCounts).sort(),
    spans,
    actors,
    servers,
    clients,
    isServer,
    aggregated,
    lanes,
    stateNames: [...stateOrder.keys()],
    messageTypes,
    roundStarts,
    t0,
    t1,
    scale,
  };
}

/** One pass: states per actor, sends by id, deliveries, faults, and the finite event times. */
function readEvents(events: readonly RecordedEvent[]) {
  const states = new Map<string, StateMark[]>();
  const sends = new Map<string, Send>();
  const delivers: Deliver[] = [];
  const faults: RecordedEvent[] = [];
  const actorSet = new Set<string>();
  const stateOrder = new Map<string, number>();
  let t0 = Infinity;
  let t1 = -Infinity;
  const values = new Float64Array(events.length);
  let nTimes = 0;
  for (const e of events) {
    const t = Number(e.t);
    if (!Number.isFinite(t)) continue;
    values[nTimes++] = t;
    if (t < t0) t0 = t;
    if (t > t1) t1 = t;
    if (!isPseudoActor(e.actor)) actorSet.add(e.actor);
    switch (e.kind) {
      case 'state': {
        const state = String(e.state);
        if (!stateOrder.has(state)) stateOrder.set(state, stateOrder.size);
        let list = states.get(e.actor);
        if (!list) states.set(e.actor, (list = []));
        list.push({ t, state, round: e.round });
        break;
      }
      case 'send':
        if (typeof e.id === 'string') sends.set(e.id, { t, actor: e.actor, type: String(e.type), bytes: Number(e.bytes) || 0, round: e.round });
        break;
      case 'deliver':
        delivers.push({ t, actor: e.actor, id: String(e.id), from: String(e.from), type: String(e.type), bytes: Number(e.bytes) || 0 });
        break;
      default:
        if (!NON_FAULT_KINDS.has(e.kind)) faults.push(e);
    }
  }
  return { states, sends, delivers, faults, actorSet, stateOrder, times: { t0, t1, values: values.subarray(0, nTimes) } };
}

function isSorted(list: readonly StateMark[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i]!.t < list[i - 1]!.t) return false;
  return true;
}
