/**
 * Client behaviour faults and actor lifecycles: watches every actor's state, crashes actors at
 * a named state of a named round, makes clients drop out (scripted, or with probability p per
 * client per round) and rejoin when a later round is announced, and restarts crashed actors
 * from what they persisted. Also tells the {@link FaultInterceptor} who is online.
 *
 * An actor is created by a spawn function (its factory) given {@link ActorHooks}; a restart
 * calls it again with the persisted record, and the factory resumes from it: XState snapshot,
 * endpoint counters and measurements, LoRA adapter. Deadlines keep their absolute time.
 */
import type { AnyActor } from 'xstate';
import type { Clock } from '../clock/clock.js';
import type { AdapterWeights } from '../models/model.js';
import { Random } from '../random.js';
import { scenarioScheduler, type Scheduler } from '../schedule/choices.js';
import { stateText } from '../schedule/digest.js';
import { actorOptions, crashParams, parseOption, type FaultSpace } from '../schedule/fault-space.js';
import type { Profile } from '../scenario/schema.js';
import type { FaultEventSink } from './interceptor.js';
import { ActorLife } from './life.js';
import { activeNodeIds, persistedSnapshot, rearmDelays, type PersistedActor, type StateStore } from './persistence.js';
import { faultsRestartActors, roundMatches, type Faults, type Partition } from './schema.js';
import { adapterChangingStates, leafStateName, type Role } from './states.js';
import type { ProfileSource } from './stragglers.js';

/** What a factory hands back so that its actor can be persisted and resumed. */
interface ActorParts {
  actor: AnyActor;
  /** Actor-side state outside the machine (plain data, copied). */
  local(): Record<string, unknown>;
  getAdapter(): AdapterWeights;
  setAdapter(weights: AdapterWeights): void;
}

/** What the controller hands a factory. */
export interface ActorHooks {
  life: ActorLife;
  /** Resume from this record instead of starting fresh. */
  restore: PersistedActor | undefined;
  /** The actor's state changed (state-tracker's callback). */
  onState(state: string, round: number): void;
  /** The actor's profile for work of `round` (stragglers). */
  profile(round: number): Profile;
  bind(parts: ActorParts): void;
}

export type Spawn = (hooks: ActorHooks) => AnyActor;

interface Incarnation {
  actor: AnyActor;
  life: ActorLife;
  parts: ActorParts;
  counted: boolean;
}

interface Entry {
  id: string;
  role: Role;
  spawn: Spawn;
  current: Incarnation | undefined;
  online: boolean;
  epoch: number;
  state: { state: string; round: number } | undefined;
  /** Why it is offline, while it is. */
  down: { kind: 'crash' | 'dropout'; round: number; state: string } | null;
  /** Dropped out: comes back when the server announces this round (null: never). */
  rejoinRound: number | null;
  enteredAt: Record<string, number>;
  activeNodes: Set<string>;
  persistedLeaf: string | null;
  adapter: AdapterWeights | null;
  /** The snapshot last tracked (machine snapshots are immutable: the same object, nothing new). */
  saved: unknown;
  /** The active state nodes last tracked. */
  trackedNodes: unknown;
  /** A population's client: forgotten once its actor has ended or dropped out (it never rejoins). */
  transient: boolean;
  /** The snapshot of the last record made, and when. */
  recorded: { snapshot: unknown; at: number } | null;
  /** Entries into each `<round>/<state>` so far (a restarted actor enters its state again). */
  entries: Map<string, number>;
}

export interface ControllerOptions {
  seed: number;
  faults: Faults;
  clock: Clock;
  recorder: FaultEventSink;
  store: StateStore;
  profiles: ProfileSource;
  /** Makes the dropout draws and the explorer's choices (default: the scenario's own draws). */
  scheduler?: Scheduler;
  /** Faults an explorer may add as an actor enters a state (none when absent). */
  space?: FaultSpace | null;
  /** Cut actors off from the rest (the interceptor's partitions), for faults an explorer adds. */
  addPartition?: (p: Partition, cause: string) => void;
}

export class FaultController {
  private readonly entries = new Map<string, Entry>();
  private active = 0;
  private pendingRestarts = 0;
  private readonly firedCrashes = new Set<number>();
  private readonly firedScripts = new Set<number>();
  private readonly dropoutDraws = new Set<string>();
  /** The explorer's options as an actor of each role enters a state. */
  private readonly actorChoices: Partial<Record<Role, string[]>> = {};
  readonly persisting: boolean;

  constructor(private readonly options: ControllerOptions) {
    // An explorer may crash any actor: each then persists what it needs to come back.
    this.persisting = faultsRestartActors(options.faults) || (options.space?.kinds.has('crash') ?? false) || (options.space?.kinds.has('dropout') ?? false);
  }

  add(id: string, role: Role, spawn: Spawn, options: { transient?: boolean } = {}): void {
    this.entries.set(id, {
      transient: options.transient ?? false,
      id,
      role,
      spawn,
      current: undefined,
      online: true,
      epoch: 0,
      state: undefined,
      down: null,
      rejoinRound: null,
      enteredAt: {},
      activeNodes: new Set(),
      persistedLeaf: null,
      adapter: null,
      saved: null,
      recorded: null,
      trackedNodes: undefined,
      entries: new Map(),
    });
  }

  /** Create the actors, in this order (it is the order they subscribe in). */
  create(order: readonly string[]): void {
    for (const id of order) this.spawn(this.entry(id), undefined);
  }

  /**
   * Bring back the actors of a process that was killed, in the process started in its place:
   * each from its persisted record (recorded as the crash it could not record itself, then a
   * restart); one that persisted nothing is created afresh. Started at once.
   */
  restore(order: readonly string[]): void {
    for (const id of order) {
      const entry = this.entry(id);
      const record = this.options.store.load(id);
      if (!record) {
        this.spawn(entry, undefined);
        continue;
      }
      const snapshot = record.snapshot as { value?: unknown; context?: { round?: number } };
      const where = { state: leafStateName(snapshot.value), round: snapshot.context?.round ?? 0 };
      entry.online = false;
      entry.epoch++;
      entry.down = { kind: 'crash', ...where };
      this.options.recorder.event({ t: this.options.clock.now(), actor: id, round: where.round, kind: 'crash', state: where.state, cause: 'process' });
      this.comeBack(entry, 'restart');
    }
  }

  /** Start the created actors, in this order. */
  start(order: readonly string[]): void {
    for (const id of order) this.entry(id).current?.actor.start();
    for (const id of order) this.track(this.entry(id));
  }

  /** Whether the actor is known (a population's client: while it takes part). */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Live actors (a population's clients come and go). */
  get size(): number {
    return this.entries.size;
  }

  /** A population's client goes offline now (its availability says so): a dropout that never rejoins. */
  async goOffline(id: string, cause: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry?.current) return;
    await this.goDown(entry, 'dropout', { cause, rejoinRound: null });
  }

  /** The current incarnation's actor (undefined while offline). */
  actorOf(id: string): AnyActor | undefined {
    return this.entry(id).current?.actor;
  }

  /** No actor is running and none is due to restart. */
  settled(): boolean {
    return this.active === 0 && this.pendingRestarts === 0;
  }

  /** Why an actor is offline at the end, if it is. */
  offline(id: string): { kind: 'crash' | 'dropout'; round: number; state: string } | null {
    const e = this.entry(id);
    return e.online ? null : e.down;
  }

  // ---- ActorStatus (for the interceptor)
  stateOf(actor: string): { state: string; round: number } | undefined {
    return this.entries.get(actor)?.state;
  }
  online(actor: string): boolean {
    return this.entries.get(actor)?.online ?? true;
  }
  epoch(actor: string): number {
    return this.entries.get(actor)?.epoch ?? 0;
  }
  gone(actor: string): boolean {
    const entry = this.entries.get(actor);
    return entry?.transient === true && entry.down?.kind === 'dropout';
  }

  stop(): void {
    for (const e of this.entries.values()) e.current?.actor.stop();
  }

  /** Every actor's machine state, liveness and fault history: the controller's part of a run's state. */
  digest(): string {
    const actors = [...this.entries.values()].map((e) => {
      const snapshot = e.current?.actor.getSnapshot() as { value?: unknown; context?: unknown } | undefined;
      const local = e.current?.parts.local() as { endpoint?: { sequence?: number } } | undefined;
      // A down actor comes back as it was persisted.
      const saved = e.online ? null : this.options.store.load(e.id);
      const resume = saved ? [(saved.snapshot as { value?: unknown }).value, (saved.snapshot as { context?: unknown }).context, saved.enteredAt] : null;
      return [
        e.id,
        e.online,
        e.epoch,
        e.down?.kind ?? null,
        e.rejoinRound,
        snapshot?.value ?? null,
        snapshot?.context ?? null,
        local?.endpoint?.sequence ?? null,
        [...e.entries],
        resume,
      ];
    });
    return stateText([actors, [...this.firedCrashes], [...this.firedScripts], [...this.dropoutDraws], this.pendingRestarts]);
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new Error(`fault controller: unknown actor ${id}`);
    return e;
  }

  private spawn(entry: Entry, restore: PersistedActor | undefined): Incarnation {
    const life = new ActorLife();
    let parts: ActorParts | undefined;
    const hooks: ActorHooks = {
      life,
      restore,
      onState: (state, round) => this.onState(entry, state, round),
      profile: (round) => this.options.profiles.profile(entry.id, round),
      bind: (p) => {
        parts = p;
      },
    };
    const actor = entry.spawn(hooks);
    if (!parts) throw new Error(`fault controller: the factory of ${entry.id} did not bind its parts`);
    const inc: Incarnation = { actor, life, parts, counted: true };
    entry.current = inc;
    entry.activeNodes = new Set();
    entry.trackedNodes = undefined;
    this.active++;
    const finished = () => this.release(inc, entry);
    actor.subscribe({
      next: () => {
        // On disk the record follows every change (a folder a person can look at); in memory it
        // is made only when a fault needs it.
        if (entry.current === inc) this.options.faults.persist === 'disk' ? this.persist(entry) : this.track(entry);
      },
      complete: finished,
      error: finished,
    });
    return inc;
  }

  private release(inc: Incarnation, entry?: Entry): void {
    if (!inc.counted) return;
    inc.counted = false;
    this.active--;
    if (entry?.transient && entry.current === inc) this.entries.delete(entry.id);
  }

  /**
   * Follow what a record of the actor would need (when some fault can take it down): when it
   * entered each active state, and its adapter as it was on entering the current one. Cheap: it
   * runs on every snapshot; the record itself is made only when a fault needs it ({@link persist}).
   */
  private track(entry: Entry): void {
    const inc = entry.current;
    if (!this.persisting || !inc?.life.alive) return;
    const snapshot = inc.actor.getSnapshot() as { status: string };
    if (snapshot.status !== 'active' || (snapshot === entry.saved && entry.persistedLeaf === (entry.state?.state ?? null))) return;
    entry.saved = snapshot;
    // A snapshot whose active state nodes did not change shares their list with the last one.
    const nodes = (snapshot as { _nodes?: unknown })._nodes;
    if (nodes !== entry.trackedNodes) {
      entry.trackedNodes = nodes;
      const now = this.options.clock.now();
      const ids = activeNodeIds(snapshot);
      const next = new Set(ids);
      for (const id of ids) if (!entry.activeNodes.has(id)) entry.enteredAt[id] = now;
      for (const id of Object.keys(entry.enteredAt)) if (!next.has(id)) delete entry.enteredAt[id];
      entry.activeNodes = next;
    }
    const leaf = entry.state?.state ?? null;
    if (leaf !== entry.persistedLeaf) {
      // The adapter changes only in a few states' work, which starts after the state is
      // entered (work is queued): leaving such a state is when to take it again.
      if (entry.adapter === null || (entry.persistedLeaf !== null && adapterChangingStates(entry.role).includes(entry.persistedLeaf)))
        entry.adapter = inc.parts.getAdapter();
      entry.persistedLeaf = leaf;
    }
  }

  /** Save what the actor needs to resume, as it is now (a crash, or the entry a fault is pinned to). */
  private persist(entry: Entry): void {
    this.track(entry);
    const inc = entry.current;
    const snapshot = inc?.actor.getSnapshot() as { status: string } | undefined;
    if (!this.persisting || !inc?.life.alive || snapshot?.status !== 'active') return;
    const now = this.options.clock.now();
    if (entry.recorded?.snapshot === snapshot && entry.recorded.at === now) return;
    entry.recorded = { snapshot, at: now };
    this.options.store.save(entry.id, {
      snapshot: persistedSnapshot(inc.actor),
      enteredAt: { ...entry.enteredAt },
      local: inc.parts.local(),
      adapter: entry.adapter,
      at: now,
    });
  }

  /**
   * The record of the state just entered: a fault "at" this state takes the actor down as it
   * was on entering it (the step that the state's work began, a send included, never completes).
   */
  private pin(entry: Entry): PersistedActor | undefined {
    if (!this.persisting || !entry.current) return undefined;
    this.persist(entry);
    return this.options.store.load(entry.id);
  }

  private onState(entry: Entry, state: string, round: number): void {
    entry.state = { state, round };
    const where = `${round}/${state}`;
    const nth = (entry.entries.get(where) ?? 0) + 1;
    entry.entries.set(where, nth);
    const { faults, clock, seed } = this.options;
    const scheduler = this.options.scheduler ?? scenarioScheduler;
    faults.crashes.forEach((spec, i) => {
      if (this.firedCrashes.has(i) || spec.actor !== entry.id || spec.round !== round || spec.state !== state || spec.nth !== nth) return;
      this.firedCrashes.add(i);
      this.crash(entry, `crashes[${i}]`, spec.afterMs, spec.restartAfterMs);
    });
    if (entry.role === 'client') {
      faults.dropout.script.forEach((spec, i) => {
        if (this.firedScripts.has(i) || spec.client !== entry.id || spec.round !== round || spec.state !== state || spec.nth !== nth) return;
        this.firedScripts.add(i);
        this.dropOut(entry, `dropout.script[${i}]`, spec.rejoinRound ?? null);
      });
      const d = faults.dropout;
      const key = `${entry.id}/${round}`;
      if (
        d.p > 0 &&
        state === d.state &&
        round > 0 &&
        !this.dropoutDraws.has(key) &&
        (!d.clients || d.clients.includes(entry.id)) &&
        roundMatches(d.rounds, round)
      ) {
        this.dropoutDraws.add(key);
        const drawn = Random.stream(seed, `faults/dropout/${key}`).next() < d.p ? 1 : 0;
        const point = {
          key: `rule:dropout.p:${key}`,
          kind: 'rule' as const,
          options: ['skip', 'apply'],
          scenarioChoice: drawn,
          weights: [1 - d.p, d.p],
          actor: entry.id,
          state,
          round,
          t: clock.now(),
        };
        if (scheduler.choose(point) === 1) this.dropOut(entry, 'dropout.p', round + d.rejoinAfterRounds);
      }
    }
    if (entry.role === 'server' && state === 'announceRound') {
      for (const e of this.entries.values()) {
        if (!e.online && e.down?.kind === 'dropout' && e.rejoinRound !== null && e.rejoinRound <= round) this.comeBack(e, 'rejoin');
      }
    }
    if (this.options.space && state !== 'done' && state !== 'failed') this.exploreAt(entry, state, round, nth, scheduler);
  }

  /** The fault an explorer adds as the actor enters this state, if any. */
  private exploreAt(entry: Entry, state: string, round: number, nth: number, scheduler: Scheduler): void {
    const options = (this.actorChoices[entry.role] ??= actorOptions(this.options.space as FaultSpace, entry.role));
    const key = `actor:${entry.id}:r${round}:${state}#${nth}`;
    const t = this.options.clock.now();
    const { kind, param } = parseOption(
      options[scheduler.choose({ key, kind: 'actor', options, scenarioChoice: 0, actor: entry.id, state, round, t })] as string,
    );
    if (kind === 'crash') {
      const { restartAfterMs, afterMs } = crashParams(param);
      this.crash(entry, 'explore', afterMs, restartAfterMs);
    } else if (kind === 'dropout') this.dropOut(entry, 'explore', param === 'never' ? null : round + 1);
    else if (kind === 'partition') this.options.addPartition?.({ actors: [entry.id], fromMs: t, toMs: t + Number(param) }, 'explore');
  }

  /** Take the actor down `afterMs` after it entered its state (at once: as it was on entering it), restart it later or never. */
  private crash(entry: Entry, cause: string, afterMs: number, restartAfterMs: number | 'never'): void {
    const pinned = afterMs === 0 ? this.pin(entry) : undefined;
    this.options.clock.setTimeout(() => this.crashAndRestart(entry, cause, restartAfterMs, pinned), afterMs, `fault:crash:${entry.id}`);
  }

  /** The client leaves as it was on entering its state, and comes back when `rejoinRound` is announced (null: never). */
  private dropOut(entry: Entry, cause: string, rejoinRound: number | null): void {
    const pinned = this.pin(entry);
    this.options.clock.setTimeout(() => void this.goDown(entry, 'dropout', { cause, rejoinRound, pinned }), 0, `fault:dropout:${entry.id}`);
  }

  private async crashAndRestart(entry: Entry, cause: string, restartAfterMs: number | 'never', pinned: PersistedActor | undefined): Promise<void> {
    const crashed = await this.goDown(entry, 'crash', { cause, rejoinRound: null, pinned, forGood: restartAfterMs === 'never' });
    if (!crashed || restartAfterMs === 'never') return;
    this.pendingRestarts++;
    this.options.clock.setTimeout(
      () => {
        this.pendingRestarts--;
        this.comeBack(entry, 'restart');
      },
      restartAfterMs,
      `fault:restart:${entry.id}`,
    );
  }

  /** Crash or drop out: stop the actor, cut its links, wait for its running work to settle. */
  private async goDown(
    entry: Entry,
    kind: 'crash' | 'dropout',
    detail: { cause: string; rejoinRound: number | null; pinned?: PersistedActor | undefined; forGood?: boolean },
  ): Promise<boolean> {
    const inc = entry.current;
    if (!inc || !entry.online || (inc.actor.getSnapshot() as { status: string }).status !== 'active') return false;
    const { clock, recorder, store } = this.options;
    // Down at the state it was pinned to (what happened since is undone), else where it is now.
    let where = entry.state ?? { state: '', round: 0 };
    if (detail.pinned) {
      store.save(entry.id, detail.pinned);
      const snap = detail.pinned.snapshot as { value?: unknown; context?: { round?: number } };
      where = { state: leafStateName(snap.value), round: snap.context?.round ?? where.round };
    } else this.persist(entry);
    entry.online = false;
    entry.epoch++;
    entry.down = { kind, round: where.round, state: where.state };
    // A population's client that drops out is gone for good: it may be selected again later, as a new life.
    entry.rejoinRound = entry.transient ? null : detail.rejoinRound;
    recorder.event({
      t: clock.now(),
      actor: entry.id,
      round: where.round,
      kind,
      state: where.state,
      // Down as it was on entering that state: what it did since is undone.
      ...(detail.pinned ? { asEntered: true } : {}),
      cause: detail.cause,
      ...(kind === 'dropout' ? { rejoinRound: entry.rejoinRound } : {}),
    });
    this.release(inc);
    inc.actor.stop();
    entry.current = undefined;
    // A population's client down for good is gone, entry and all: selected again later, it is a new life.
    if (entry.transient && (kind === 'dropout' || detail.forGood === true)) this.entries.delete(entry.id);
    await inc.life.kill();
    return true;
  }

  /** Restart or rejoin from the persisted record. */
  private comeBack(entry: Entry, kind: 'restart' | 'rejoin'): void {
    if (entry.online) return;
    const { clock, recorder, store } = this.options;
    const record = store.load(entry.id);
    entry.online = true;
    entry.down = null;
    entry.rejoinRound = null;
    entry.enteredAt = { ...(record?.enteredAt ?? {}) };
    entry.adapter = record?.adapter ?? null;
    const snapshot = record?.snapshot as { value?: unknown; context?: { round?: number } } | undefined;
    recorder.event({
      t: clock.now(),
      actor: entry.id,
      round: snapshot?.context?.round ?? 0,
      kind,
      state: snapshot ? leafStateName(snapshot.value) : '',
      savedAt: record?.at ?? null,
    });
    const inc = this.spawn(entry, record);
    if (record?.adapter) inc.parts.setAdapter(record.adapter);
    entry.activeNodes = new Set(activeNodeIds(inc.actor.getSnapshot()));
    entry.persistedLeaf = entry.state?.state ?? null;
    inc.actor.start();
    if (record) rearmDelays(inc.actor, record.enteredAt, clock.now());
    this.track(entry);
  }
}
