/**
 * Work as the clock sees it: the virtual duration of a step comes from the actor's profile in
 * the scenario, not from how long the CPU took; the CPU time is recorded in timings.jsonl.
 */
import type { Clock } from '../core/clock/clock.js';
import { longestMessageHoldMs } from '../core/faults/schema.js';
import type { ProfileSource } from '../core/faults/stragglers.js';
import type { FaultSpace } from '../core/schedule/fault-space.js';
import type { Profile, Scenario } from '../core/scenario/schema.js';
import type { FederationData } from './federation-data.js';
import type { Link } from '../core/transport/memory.js';
import type { RunRecorder } from './run-recorder.js';

export type WorkKind = 'train' | 'infer' | 'align' | 'measure';

/** Virtual ms for `samples` samples of `kind` work on this profile. */
function workDuration(profile: Profile, kind: WorkKind, samples: number): number {
  switch (kind) {
    case 'train':
      return profile.msPerTrainSample * samples;
    case 'infer':
      // A forward pass is about a third of forward plus backward.
      return (profile.msPerTrainSample * samples) / 3;
    case 'align':
      return profile.msPerAlignSample * samples;
    case 'measure':
      return 0;
  }
}

/**
 * The longest a client's round of work can take, on its slowest round's profile: what it may
 * still have to do when it hears the finish (waits end at the finish, so none is counted).
 */
function roundWorkMs(
  profileOf: (round: number) => Profile,
  rounds: number,
  samples: { privateSamples: number; publicSamples: number; privateEpochs: number; distillEpochs: number },
  /** Asynchronous clients work on the profile of round 0 too (before they took any LLM version). */
  firstRound = 1,
): number {
  let longest = 0;
  for (let round = firstRound; round <= rounds; round++) {
    const p = profileOf(round);
    const work =
      workDuration(p, 'train', samples.privateSamples * samples.privateEpochs) +
      workDuration(p, 'infer', samples.publicSamples) +
      workDuration(p, 'align', samples.publicSamples) +
      workDuration(p, 'train', samples.publicSamples * samples.distillEpochs);
    longest = Math.max(longest, work);
  }
  return longest;
}

/** An actor's uplink in the in-memory transport: encoded size over bandwidth, then latency. */
export function linkOfProfile(profile: Profile): Link {
  return { transmitMs: (bytes) => (bytes * 8) / (profile.bandwidthMbps * 1000), latencyMs: profile.latencyMs };
}

/**
 * Model work of one process, one piece at a time in the order it was started. TF.js on the
 * main thread runs one kernel at a time anyway; serialising whole steps keeps each step's
 * measured wall time its own and the order of work deterministic.
 */
export class ComputeQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** The queue every WorkRunner of this process shares unless given another. */
export const processComputeQueue = new ComputeQueue();

export class WorkRunner {
  constructor(
    private readonly actor: string,
    private readonly clock: Clock,
    private readonly profile: Profile,
    private readonly recorder: RunRecorder,
    /** null: no serialising here (models in worker threads queue their own work). */
    private readonly queue: ComputeQueue | null = processComputeQueue,
  ) {}

  /** Run `work`, charge its profile duration to the clock, record its wall time. */
  run<T>(state: string, round: number, kind: WorkKind, samples: number, work: () => Promise<T>): Promise<T> {
    const timed = async () => {
      const start = process.hrtime.bigint();
      try {
        return await work();
      } finally {
        this.recorder.timing({ actor: this.actor, round, state, wallSeconds: Number(process.hrtime.bigint() - start) / 1e9 });
      }
    };
    return this.clock.charge(workDuration(this.profile, kind, samples), () => (this.queue ? this.queue.run(timed) : timed()), `${this.actor}:${state}`);
  }
}

/**
 * Liveness bound per client (virtual time): after the server's end a client may still finish the
 * round it is in (its longest round of work), and the finish may take the links' latency and the
 * longest hold the message rules allow to reach it.
 */
export function clientEndBounds(scenario: Scenario, data: FederationData, profiles: ProfileSource, space: FaultSpace | null): Record<string, number> {
  const added = space ? Math.max(0, ...space.delaysMs, space.reorderHoldMs) : 0;
  const hold = longestMessageHoldMs(scenario.faults.messages) + added;
  const serverLatency = profiles.linkProfile('server').latencyMs;
  return Object.fromEntries(
    scenario.clients.map((c, i) => {
      const work = roundWorkMs(
        (round) => profiles.profile(c.id, round),
        scenario.rounds,
        {
          privateSamples: data.privateSets[i]?.length ?? 0,
          publicSamples: data.publicSet.length,
          privateEpochs: c.training.privateEpochs,
          distillEpochs: c.training.distillEpochs,
        },
        scenario.protocol.mode === 'sync' ? 1 : 0,
      );
      return [c.id, work + 2 * (serverLatency + profiles.linkProfile(c.id).latencyMs) + hold];
    }),
  );
}
