/**
 * A population in a local run (federation.ts): its host, and how a resumed run goes on from a
 * population checkpoint.
 *
 * At the server's checkpoint of round r some clients are still in a round: the round's own,
 * distilling from the LLM's logits, and over-committed stragglers, whose late uploads may still
 * count under `lateMessages.acceptWithinRounds`. The resumed run does not guess what they would
 * have done: it starts its clock when the first of them was selected, brings each up again at
 * its selection time with the adapter it had then, and delivers them the server's messages they
 * heard or were still to hear (kept in the checkpoint). Their rounds replay as they ran, the
 * records muted until the checkpoint's time (what they did before it is in the records kept);
 * then the server starts from its checkpoint, and from there the resumed run is the
 * uninterrupted one.
 */
import type { Clock } from '../core/clock/clock.js';
import type { FaultController } from '../core/faults/controller.js';
import type { FaultInterceptor } from '../core/faults/interceptor.js';
import type { PopulationModel } from '../core/population/population.js';
import type { TextSample } from '../core/models/model.js';
import type { Scenario } from '../core/scenario/schema.js';
import type { MemoryTransport, ScheduledDelivery } from '../core/transport/memory.js';
import type { PopulationResume } from './population-checkpoints.js';
import { PopulationHost, type PopulationHostDeps, type PopulationProfiles } from './population-host.js';
import { populationRoles, type DeploymentPopulation } from './population-remote.js';
import type { Transport } from '../core/transport/transport.js';
import type { RunRecorder } from './run-recorder.js';

export interface PopulationRunDeps {
  scenario: Scenario;
  model: PopulationModel;
  controller: FaultController;
  clock: Clock;
  recorder: RunRecorder;
  profiles: PopulationProfiles;
  pool: readonly (TextSample & { domain: string })[];
  learner: PopulationHostDeps['learner'];
  actor: PopulationHostDeps['actor'];
  /** The in-memory transport (a population runs locally). */
  memory: MemoryTransport | null;
  /** Where the transport tells of the publishes it schedules. */
  taps: { delivery?: (delivery: ScheduledDelivery) => void };
  /** Round checkpoints are written. */
  checkpoints: boolean;
  /** Resumed from this population checkpoint. */
  resume: PopulationResume | undefined;
  /** The server runs in this process (which then says what the population is). */
  serverHere: boolean;
}

export type PopulationRoles = ReturnType<typeof populationRoles>;

/**
 * A run's population: its host, and what the host is to this process (the server's selection,
 * over the processes hosting the population's parts when `split`).
 */
export function populationSide(deps: PopulationRunDeps & { split?: { transport: Transport; population: DeploymentPopulation } }): {
  host: PopulationHost;
  roles: PopulationRoles;
} {
  const host = populationHost(deps);
  const { scenario, model, clock, serverHere, split } = deps;
  const roles = populationRoles({
    host,
    model,
    run: scenario.name,
    clock,
    serverSilenceMs: scenario.protocol.serverSilenceMs,
    serverHere,
    ...(split ? { split } : {}),
  });
  return { host, roles };
}

/** The run's population host; it says what the population is (a fresh run records it). */
function populationHost(deps: PopulationRunDeps): PopulationHost {
  const { memory, checkpoints, resume, recorder, clock } = deps;
  const host = new PopulationHost({
    ...deps,
    ...(memory
      ? { uplinks: { freeAt: (sender: string) => memory.uplinkFreeAt(sender), setFreeAt: (sender: string, at: number) => memory.setUplinkFreeAt(sender, at) } }
      : {}),
    checkpoints,
    ...(resume ? { resume } : {}),
  });
  deps.taps.delivery = (d) => host.noteDelivery(d);
  if (!resume && deps.serverHere) recorder.event({ t: clock.now(), actor: 'server', round: 0, kind: 'population', ...host.describe() });
  return host;
}

/**
 * A resumed run: replay the rounds of the clients busy at the checkpoint (see above), with the
 * records muted, and call `start` (the server's start from its checkpoint) at the checkpoint's
 * time. False when no client was busy then: the caller starts the server at once.
 */
export function replayPopulationCut(
  host: PopulationHost,
  resume: PopulationResume,
  { clock, recorder, memory, transport }: { clock: Clock; recorder: RunRecorder; memory: MemoryTransport | null; transport: FaultInterceptor },
  start: () => Promise<void>,
): boolean {
  const { cut } = resume;
  if (cut.serverUplinkFreeAt !== null) memory?.setUplinkFreeAt('server', cut.serverUplinkFreeAt);
  if (host.replayCut() === null) return false;
  if (!memory) throw new Error('resume: a population replays its busy clients on the in-memory transport');
  recorder.mute(true);
  // After the clients' bring-ups: a message due at a client's selection time finds it listening, as it did.
  for (const d of cut.deliveries) {
    transport.adopt(d.data, { sender: 'server', messageId: d.messageId });
    memory.deliverAt(d.at, d.subject, d.data);
  }
  clock.setTimeout(
    () => {
      recorder.mute(false);
      return start();
    },
    Math.max(0, cut.at - clock.now()),
    'resume',
  );
  return true;
}
