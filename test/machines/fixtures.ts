// biome-ignore-all lint/suspicious/noExplicitAny: one harness for both machines, whose inputs, contexts and records differ; tests narrow them
import { createActor, fromPromise, type Actor, type AnyStateMachine, type EventFromLogic } from 'xstate';
import { leafStateName } from '../../core/faults/states.js';
import { VirtualClock } from '../../core/clock/virtual-clock.js';
import type { PublicLogits } from '../../core/protocol/messages.js';

/** A one-sample, one-position payload: machines carry it, never look inside. */
export function tinyLogits(tokenizer = 'test'): PublicLogits {
  return {
    tokenizer,
    topK: 1,
    lengths: Int32Array.of(1),
    tokenIds: Int32Array.of(0),
    topKIds: Int32Array.of(0),
    topKLogits: Float32Array.of(0),
    ce: Float32Array.of(1),
  };
}

/** One invocation of a fake work actor: what it was given and when it ran (virtual ms). */
interface WorkCall {
  name: string;
  input: any;
  start: number;
  /** Virtual time the work finished (or failed); null while it runs. */
  end: number | null;
}

/** A resting state the actor was seen in, deduplicated on (round, state). */
interface TraceEntry {
  t: number;
  round: number;
  state: string;
  context: any;
}

export interface Harness<M extends AnyStateMachine> {
  clock: VirtualClock;
  actor: Actor<M>;
  calls: WorkCall[];
  /** Every emitted protocol record, with the virtual time it was emitted at. */
  records: any[];
  trace: TraceEntry[];
  /** Run `fn` `ms` of virtual time from now. */
  at(ms: number, fn: () => void): void;
  /** Deliver `event` to the machine `ms` of virtual time from now. */
  sendAt(ms: number, event: EventFromLogic<M>): void;
  /** Calls of one work actor, in order. */
  callsOf(name: string): WorkCall[];
  /** Records of one type, without their time stamp. */
  recordsOf(type: string): any[];
  /** The states visited in one round, in order. */
  statesIn(round: number): string[];
  /** Run the virtual clock until nothing is scheduled. */
  run(): Promise<number>;
}

export interface FakeWork<M extends AnyStateMachine> {
  /** Virtual ms each work actor charges (default 0). */
  durations?: Record<string, number>;
  /** Output of each work actor, from its input (default undefined). */
  outputs?: Record<string, (input: any) => unknown>;
  /** Side effects when a work actor starts: e.g. the network answering an upload. */
  hooks?: Record<string, (input: any, h: Harness<M>) => void>;
  /** Work actors that throw `boom in <name>` (after their duration). */
  fail?: string[];
  /** Implementations of the machine's provided actions (e.g. the client's finish receipt). */
  actions?: Record<string, (args: unknown, params: any) => void>;
}

/**
 * The real machine with every invoked actor replaced by a `fromPromise` fake that records its
 * input, charges its duration to a {@link VirtualClock} and returns a fixed output.
 */
export function harness<M extends AnyStateMachine>(machine: M, actorNames: string[], input: unknown, work: FakeWork<M> = {}): Harness<M> {
  const clock = new VirtualClock();
  const calls: WorkCall[] = [];
  const records: unknown[] = [];
  const trace: TraceEntry[] = [];
  let h: Harness<M>;
  const fakes = Object.fromEntries(
    actorNames.map((name) => [
      name,
      fromPromise(async ({ input: workInput }: { input: unknown }) => {
        const call: WorkCall = { name, input: workInput, start: clock.now(), end: null };
        calls.push(call);
        work.hooks?.[name]?.(workInput, h);
        try {
          return await clock.charge(work.durations?.[name] ?? 0, async () => {
            if (work.fail?.includes(name)) throw new Error(`boom in ${name}`);
            return work.outputs?.[name]?.(workInput);
          });
        } finally {
          call.end = clock.now();
        }
      }),
    ]),
  );
  const actor = createActor(
    machine.provide({ actors: fakes, ...(work.actions ? { actions: work.actions } : {}) } as never) as M,
    { clock, input } as never,
  ) as Actor<M>;
  actor.on('*' as never, (record: object) => records.push({ ...record, t: clock.now() }));
  let last = '';
  actor.subscribe({
    next: (snapshot) => {
      const s = snapshot as unknown as { value: unknown; context: { round: number } };
      const entry = { t: clock.now(), round: s.context.round, state: leafStateName(s.value), context: s.context };
      const key = `${entry.round}:${entry.state}`;
      if (key === last) return;
      last = key;
      trace.push(entry);
    },
    error: () => undefined,
  });
  h = {
    clock,
    actor,
    calls,
    records,
    trace,
    at: (ms, fn) => void clock.setTimeout(fn, ms),
    // A message for an actor that has already ended goes nowhere, as over the network.
    sendAt: (ms, event) =>
      void clock.setTimeout(() => {
        if ((actor.getSnapshot() as { status: string }).status === 'active') actor.send(event);
      }, ms),
    callsOf: (name) => calls.filter((c) => c.name === name),
    recordsOf: (type) =>
      records
        .filter((r) => (r as { type: string }).type === type)
        .map((r) => {
          const { t: _t, ...rest } = r as { t: number };
          return rest;
        }),
    statesIn: (round) => trace.filter((e) => e.round === round).map((e) => e.state),
    run: () => clock.run(),
  };
  actor.start();
  return h;
}
