/**
 * What the live view sends the page: the shapes of a snapshot (LiveState folds events into them,
 * the browser module in ./browser draws them). Types only, so that the browser bundle and its
 * type check take nothing from the server side.
 */

/** A RunEvent (actors/run-recorder.ts), or a row of any source that has the same shape. */
export interface LiveEvent {
  t: number;
  actor: string;
  round: number;
  kind: string;
  [detail: string]: unknown;
}

export type Role = 'server' | 'client';

export interface ActorRow {
  id: string;
  role: Role;
  /** Leaf state name (`trainPrivate`, `fedAvg.awaitAverage`, `done`), `starting` before the first. */
  state: string;
  round: number;
  /** Event time the state was entered. */
  since: number;
  /** Event time the state's deadline falls, when the state has one. */
  deadlineAt: number | null;
  /** `crash` / `dropout` while the actor is down. */
  down: string | null;
  /** Fault events this actor met (as receiver, or crash/dropout/...). */
  faults: number;
  lastFault: string | null;
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface MessageRow {
  /** Sequence number of the event in the stream. */
  n: number;
  t: number;
  /** Wall ms since the live view started, when the event arrived. */
  w: number;
  kind: string;
  type: string;
  from: string;
  /** Receiver; `server` for uploads, `*` for a broadcast send. */
  to: string;
  id: string;
  bytes: number | null;
  note: string;
  /** Faults met on the way (`delay`, `duplicate`, `reorder`, `corrupt`) and `again` for a second delivery. */
  marks: string[];
}

export interface CollectionProgress {
  round: number;
  /** The message type the server is collecting: `slm-logits` (step 2) or `adapter` (FedAvg). */
  message: string;
  state: string;
  openedAt: number;
  deadlineMs: number | null;
  deadlineAt: number | null;
  /** Accepted uploads of this round (distinct senders). */
  received: number;
  /** Clients expected. */
  expected: number;
  needed: number | null;
  ignored: number;
  /** Open until the server leaves the collecting state. */
  open: boolean;
  closedAt: number | null;
  deadlineFired: boolean;
  outcome: string | null;
}

export interface RoundRow {
  round: number;
  startedAt: number;
  endedAt: number | null;
  uploads: number;
  /** A population's round: the clients announced (its selection); null for listed clients. */
  announced: number | null;
  outcome: string | null;
  messages: number;
  faults: number;
}

/** A population's clients of one template (see {@link LiveSnapshot.templates}). */
export interface TemplateRow {
  template: number;
  /** `template 0`, as `run`'s table, the report and `sweep` name it. */
  label: string;
  /** Its model and tokenizer (`bigram, gpt2`), when the run's `population` event says. */
  kind: string | null;
  /** Its clients selected so far, and how many of them are in each state now (`offline`: down). */
  clients: number;
  counts: Record<string, number>;
  /** The current round: its clients announced, their uploads accepted, stragglers and dropouts. */
  announced: number;
  uploads: number;
  stragglers: number;
  dropouts: number;
}

export interface LiveSnapshot {
  format: 'fedmkt-live/1';
  seq: number;
  title: string;
  clock: 'virtual' | 'wall';
  /** Latest event time seen. */
  now: number;
  /** Wall ms since the live view started. */
  wall: number;
  events: number;
  byKind: Record<string, number>;
  ended: { at: number; finalStates: Record<string, string> | null; text: string | null } | null;
  actors: {
    total: number;
    clients: number;
    /** Every actor is in `rows` (false: a sample, see `counts`). */
    detailed: boolean;
    rows: ActorRow[];
  };
  /** Actors per state, per role (`offline` for actors that are down). */
  counts: Record<Role, Record<string, number>>;
  /**
   * A population's clients by the template they drew (the server's `selection` events name it),
   * `round` the round the participation figures are of; null when the events do not say (listed
   * clients, runs recorded before selections named templates).
   */
  templates: { round: number; rows: TemplateRow[] } | null;
  round: number;
  collection: CollectionProgress | null;
  rounds: RoundRow[];
  messages: MessageRow[];
  faults: MessageRow[];
}

/** A statechart as the page draws it (statecharts.ts makes them). */
export interface LiveChartDrawing {
  /** Self-contained SVG (no XML prologue), marker ids prefixed with the machine name. */
  svg: string;
  /** Reported state name → node id. */
  stateIds: Record<string, string>;
  /** Node id → ids of its compound ancestors (outermost last), the root excluded. */
  ancestors: Record<string, string[]>;
}
