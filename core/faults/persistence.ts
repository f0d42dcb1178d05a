/**
 * What an actor persists to resume after a crash: its XState persisted snapshot (context
 * included: the server's accepted uploads of the open round, a client's own logits), when it
 * entered each active state (so deadlines keep their absolute time across a restart), its
 * actor-side counters, and its LoRA adapter. In memory by default; on disk (msgpack with
 * typed arrays, as the wire codec writes them) under RUN_DIR/state/<actor>/.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import type { AnyActor, AnyStateMachine, Snapshot } from 'xstate';
import type { AdapterWeights } from '../models/model.js';
import { bookGet, bookIds, bookWith, emptyBook, isBook } from '../upload-book.js';

export interface PersistedActor {
  /** `actor.getPersistedSnapshot()` form: restore with `createActor(machine, { snapshot })`. */
  snapshot: Snapshot<unknown>;
  /** Clock ms at which each active state node (by id) was entered. */
  enteredAt: Record<string, number>;
  /** Actor-side state outside the machine: endpoint counters, per-round measurements. */
  local: Record<string, unknown>;
  /** The adapter as it was when the actor entered its current state. */
  adapter: AdapterWeights | null;
  /** Clock ms of the last save. */
  at: number;
}

export interface StateStore {
  save(actor: string, record: PersistedActor): void;
  load(actor: string): PersistedActor | undefined;
}

/** Keeps the latest record of each actor. Records are immutable data: no copy is needed. */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, PersistedActor>();
  save(actor: string, record: PersistedActor): void {
    this.records.set(actor, record);
  }
  load(actor: string): PersistedActor | undefined {
    return this.records.get(actor);
  }
}

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false, bundleStrings: false });
const unpackr = new Unpackr({ moreTypes: true, useRecords: false, structuredClone: false, mapsAsObjects: true });

/** Context maps written one file per entry, so a save rewrites only what changed. */
const ENTRY_MAPS = ['uploads', 'adapters'] as const;

/**
 * RUN_DIR/state/<actor>/: `snapshot.msgpack` (snapshot without the entry maps, enteredAt,
 * local), `adapter.msgpack`, and `uploads/<client>.msgpack`, `adapters/<client>.msgpack` for
 * the server's accepted uploads of the open round. Each file is written when its content
 * changed (by identity: machine contexts are immutable).
 */
export class DiskStateStore implements StateStore {
  private readonly written = new Map<string, { adapter: unknown; entries: Map<string, unknown> }>();

  constructor(readonly dir: string) {}

  save(actor: string, record: PersistedActor): void {
    const dir = join(this.dir, actor);
    let seen = this.written.get(actor);
    if (!seen) {
      mkdirSync(dir, { recursive: true });
      seen = { adapter: undefined, entries: new Map() };
      this.written.set(actor, seen);
    }
    const context = (record.snapshot as { context?: Record<string, unknown> }).context ?? {};
    const light: Record<string, unknown> = { ...context };
    const index: Record<string, string[]> = {};
    const books: string[] = [];
    for (const key of ENTRY_MAPS) {
      const value = context[key];
      if (!value || typeof value !== 'object') continue;
      if (isBook(value)) books.push(key);
      const map = isBook(value) ? Object.fromEntries(bookIds(value).map((id) => [id, bookGet(value, id)])) : (value as Record<string, unknown>);
      delete light[key];
      index[key] = Object.keys(map);
      mkdirSync(join(dir, key), { recursive: true });
      for (const [entry, value] of Object.entries(map)) {
        const id = `${key}/${entry}`;
        if (seen.entries.get(id) === value) continue;
        writeFileSync(join(dir, key, `${entry}.msgpack`), packr.pack(value));
        seen.entries.set(id, value);
      }
      for (const id of [...seen.entries.keys()]) {
        if (id.startsWith(`${key}/`) && !(id.slice(key.length + 1) in map)) {
          rmSync(join(dir, `${id}.msgpack`), { force: true });
          seen.entries.delete(id);
        }
      }
    }
    const snapshot = { ...(record.snapshot as object), context: light };
    writeFileSync(join(dir, 'snapshot.msgpack'), packr.pack({ snapshot, index, books, enteredAt: record.enteredAt, local: record.local, at: record.at }));
    if (record.adapter !== seen.adapter) {
      writeFileSync(join(dir, 'adapter.msgpack'), packr.pack(record.adapter));
      seen.adapter = record.adapter;
    }
  }

  load(actor: string): PersistedActor | undefined {
    const dir = join(this.dir, actor);
    if (!existsSync(join(dir, 'snapshot.msgpack'))) return undefined;
    const saved = unpackr.unpack(readFileSync(join(dir, 'snapshot.msgpack'))) as {
      snapshot: { context: Record<string, unknown> };
      index: Record<string, string[]>;
      /** Entry maps that were {@link UploadBook}s. */
      books?: string[];
      enteredAt: Record<string, number>;
      local: Record<string, unknown>;
      at: number;
    };
    const context = { ...saved.snapshot.context };
    for (const [key, entries] of Object.entries(saved.index)) {
      const map: Record<string, unknown> = {};
      const files = new Set(existsSync(join(dir, key)) ? readdirSync(join(dir, key)) : []);
      for (const entry of entries) {
        if (!files.has(`${entry}.msgpack`)) throw new Error(`state of ${actor}: ${key}/${entry}.msgpack is missing`);
        map[entry] = unpackr.unpack(readFileSync(join(dir, key, `${entry}.msgpack`)));
      }
      context[key] = saved.books?.includes(key) ? Object.entries(map).reduce((book, [id, v]) => bookWith(book, id, v), emptyBook<unknown>()) : map;
    }
    const adapterFile = join(dir, 'adapter.msgpack');
    const adapter = existsSync(adapterFile) ? (unpackr.unpack(readFileSync(adapterFile)) as AdapterWeights | null) : null;
    return {
      snapshot: { ...saved.snapshot, context } as unknown as Snapshot<unknown>,
      enteredAt: saved.enteredAt,
      local: saved.local,
      adapter,
      at: saved.at,
    };
  }
}

/**
 * The actor's persisted snapshot. XState's own walk of the context (looking for actor refs to
 * replace) visits every element of every typed array; these machines keep no actor refs in
 * their context, so it is skipped and the (immutable) context taken as it is.
 */
export function persistedSnapshot(actor: AnyActor): Snapshot<unknown> {
  const snapshot = actor.getSnapshot() as Record<string, unknown>;
  const persisted = (actor.logic as AnyStateMachine).getPersistedSnapshot({ ...snapshot, context: {} } as never) as Record<string, unknown>;
  persisted.context = snapshot.context;
  return persisted as unknown as Snapshot<unknown>;
}

interface DelayedTransition {
  eventType: string;
  delay: number | string | ((args: unknown) => number);
}
interface NodeWithAfter {
  id: string;
  after: DelayedTransition[];
}

/** Ids of the active state nodes of a machine actor's snapshot. */
export function activeNodeIds(snapshot: unknown): string[] {
  const nodes = (snapshot as { _nodes?: { id: string }[] })._nodes ?? [];
  return nodes.map((n) => n.id);
}

/**
 * XState does not carry scheduled (delayed) events across a restore: re-arm each active
 * state's `after` transitions with the time it has left, counted from when the state was
 * entered before the crash. Scheduled under XState's own ids, so leaving the state cancels them.
 */
export function rearmDelays(actor: AnyActor, enteredAt: Record<string, number>, now: number): { event: string; remainingMs: number }[] {
  const snapshot = actor.getSnapshot() as { _nodes?: NodeWithAfter[]; context: unknown };
  const machine = actor.logic as AnyStateMachine;
  const delays = (machine.implementations?.delays ?? {}) as Record<string, number | ((args: unknown, params: unknown) => number)>;
  const scheduler = (actor.system as unknown as { scheduler: { schedule(s: unknown, t: unknown, e: unknown, d: number, id: string): void } }).scheduler;
  const armed: { event: string; remainingMs: number }[] = [];
  for (const node of snapshot._nodes ?? []) {
    const seen = new Set<string>();
    for (const t of node.after) {
      if (seen.has(t.eventType)) continue;
      seen.add(t.eventType);
      let ms: number;
      if (typeof t.delay === 'number') ms = t.delay;
      else if (typeof t.delay === 'function') ms = t.delay({ context: snapshot.context, event: { type: 'xstate.restore' }, self: actor, system: actor.system });
      else {
        const named = delays[t.delay];
        ms =
          typeof named === 'function'
            ? named({ context: snapshot.context, event: { type: 'xstate.restore' }, self: actor, system: actor.system }, undefined)
            : (named ?? 0);
      }
      const remainingMs = Math.max(0, (enteredAt[node.id] ?? now) + ms - now);
      scheduler.schedule(actor, actor, { type: t.eventType }, remainingMs, t.eventType);
      armed.push({ event: t.eventType, remainingMs });
    }
  }
  return armed;
}
