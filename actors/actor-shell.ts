/**
 * What the client and server actors share around their machines: the endpoint and round
 * meter (restored after a crash), work charged to the clock, state and decision records,
 * message delivery, and the fault layer's view of the actor.
 */
import type { AnyActor, EventObject } from 'xstate';
import type { Clock } from '../core/clock/clock.js';
import type { ActorHooks } from '../core/faults/controller.js';
import type { AdapterWeights } from '../core/models/model.js';
import type { DecodeContext } from '../core/protocol/codec.js';
import type { Envelope } from '../core/protocol/messages.js';
import type { Profile, Scenario } from '../core/scenario/schema.js';
import type { Transport } from '../core/transport/transport.js';
import { ActorEndpoint, type EndpointState } from './endpoint.js';
import type { ActorResume, RoundCheckpointing } from './round-checkpoints.js';
import { RoundMeter, type RoundMeterState } from './round-meter.js';
import type { RunRecorder } from './run-recorder.js';
import type { RunEvent } from '../core/records.js';
import { trackStates } from './state-tracker.js';
import { processComputeQueue, WorkRunner, type ComputeQueue, type WorkKind } from './work.js';

/** What every actor needs from the run. */
export interface ActorDeps {
  scenario: Scenario;
  run: string;
  transport: Transport;
  clock: Clock;
  recorder: RunRecorder;
  decode: DecodeContext;
  /** Serialises model work; null when models run in worker threads. Default: the process queue. */
  computeQueue?: ComputeQueue | null;
  /** Fault layer (core/faults): lifecycle, restore after a crash, state observation, straggler profiles. */
  hooks?: ActorHooks;
  /** Round checkpoints to write. */
  checkpoints?: RoundCheckpointing;
  /** Resuming a run: the checkpoint this actor goes on from (none: a fresh run). */
  resume?: ActorResume;
  /** What a restart makes of the persisted snapshot (default: nothing); a planted bug may forget part of it. */
  onRestore?: (snapshot: unknown) => unknown;
  /** Tells this life of the actor from earlier ones in message ids (a population's client: `@<round>`). */
  life?: string;
}

/** What an actor persists besides its machine snapshot and adapter. */
interface ShellLocal extends Record<string, unknown> {
  endpoint: EndpointState;
  meter: RoundMeterState;
  /** Events in the run's trace when this was taken: a process restarted in place of a killed one keeps the actor's records up to here. */
  recorded: number;
}

export interface WorkCharger {
  run<T>(state: string, round: number, kind: WorkKind, samples: number, work: () => Promise<T>): Promise<T>;
}

export class ActorShell {
  readonly endpoint: ActorEndpoint;
  readonly meter: RoundMeter;
  readonly work: WorkCharger;
  private currentRound = 0;

  constructor(
    readonly id: string,
    role: 'client' | 'server',
    profile: Profile,
    private readonly deps: ActorDeps,
  ) {
    const { clock, recorder, hooks } = deps;
    const saved = (hooks?.restore?.local ?? deps.resume?.local) as ShellLocal | undefined;
    this.endpoint = new ActorEndpoint({
      run: deps.run,
      actor: id,
      transport: deps.transport,
      clock,
      recorder,
      decode: deps.decode,
      round: () => this.currentRound,
      logitEncoding: deps.scenario.protocol.logitEncoding,
      ...(saved ? { resume: saved.endpoint } : {}),
      ...(deps.resume ? { usedSequence: deps.resume.usedSequence } : {}),
      ...(deps.life ? { life: deps.life } : {}),
    });
    this.meter = new RoundMeter(id, role, clock, this.endpoint, saved?.meter);
    this.work = faultAwareWork(id, clock, profile, recorder, deps.computeQueue, hooks);
  }

  /** Actor-side state outside the machine: what a crash restart and a round checkpoint keep. */
  local(): ShellLocal {
    return { endpoint: this.endpoint.state(), meter: this.meter.state(), recorded: this.deps.recorder.events.length };
  }

  /** After round `round`'s evaluation: its checkpoint, which a run can resume from. */
  async checkpoint(round: number): Promise<void> {
    const checkpoints = this.deps.checkpoints;
    if (!checkpoints || round === 0) return;
    await this.work.run('checkpoint', round, 'measure', 0, () => checkpoints.save(round, { recorded: this.deps.recorder.events.length, local: this.local() }));
  }

  /** The machine snapshot to start from after a crash, if any. */
  get restoredSnapshot(): { snapshot: never } | Record<string, never> {
    const saved = this.deps.hooks?.restore?.snapshot;
    if (saved === undefined) return {};
    return { snapshot: (this.deps.onRestore ? this.deps.onRestore(saved) : saved) as never };
  }

  /**
   * Connect a created actor: state and decision records, messages from `inbox` turned into
   * machine events (null: not for this machine), and the fault layer's view.
   */
  attach<TEvent extends EventObject>(
    actor: AnyActor,
    options: {
      inbox: readonly string[];
      toEvent: (envelope: Envelope) => TEvent | null;
      records: readonly string[];
      adapter: { get(): AdapterWeights; set(weights: AdapterWeights): void };
    },
  ): void {
    const { clock, recorder, hooks } = this.deps;
    const { id, endpoint } = this;
    trackStates(id, actor, clock, recorder, (state, round) => {
      this.currentRound = round;
      hooks?.onState(state, round);
    });
    for (const type of options.records) {
      actor.on(type, (record: { type: string } & Record<string, unknown>) =>
        recorder.event({ t: clock.now(), actor: id, kind: record.type as RunEvent['kind'], ...omitType(record) } as RunEvent),
      );
    }
    endpoint.listen(options.inbox, (envelope) => {
      const event = options.toEvent(envelope);
      if (event) actor.send(event);
    });
    actor.subscribe({ complete: () => endpoint.close(), error: () => endpoint.close() });
    hooks?.life.onKilled(() => endpoint.close());
    hooks?.bind({
      actor,
      local: () => this.local(),
      getAdapter: () => options.adapter.get(),
      setAdapter: (weights) => options.adapter.set(weights),
    });
  }
}

/**
 * Work as a fault-aware actor runs it: on the profile of its round (stragglers), started only
 * while the incarnation is alive, its result delivered only to a live incarnation.
 */
function faultAwareWork(
  actor: string,
  clock: Clock,
  profile: Profile,
  recorder: RunRecorder,
  queue: ComputeQueue | null | undefined,
  hooks: ActorHooks | undefined,
): WorkCharger {
  const resolvedQueue = queue === undefined ? processComputeQueue : queue;
  const runners = new Map<Profile, WorkRunner>();
  const runnerFor = (round: number): WorkRunner => {
    const p = hooks ? hooks.profile(round) : profile;
    let runner = runners.get(p);
    if (!runner) runners.set(p, (runner = new WorkRunner(actor, clock, p, recorder, resolvedQueue)));
    return runner;
  };
  return {
    run(state, round, kind, samples, work) {
      const runner = runnerFor(round);
      if (!hooks) return runner.run(state, round, kind, samples, work);
      const { life } = hooks;
      return life.release(runner.run(state, round, kind, samples, () => life.start(work)));
    },
  };
}

function omitType<T extends { type: string }>(record: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = record;
  return rest;
}
