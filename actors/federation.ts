/**
 * Runs a whole federation in one process: one server actor and one actor per client, on a
 * transport (in-memory with a virtual clock by default), until every actor has stopped.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TokenAlignment } from '../core/alignment/aligned-teacher.js';
import type { Clock, WallClock } from '../core/clock/clock.js';
import { VirtualClock } from '../core/clock/virtual-clock.js';
import { FaultController } from '../core/faults/controller.js';
import { FaultInterceptor } from '../core/faults/interceptor.js';
import { DiskStateStore, MemoryStateStore } from '../core/faults/persistence.js';
import { straggledProfiles, type ProfileSource, withTraceInlined } from '../core/faults/stragglers.js';
import type { Violation } from '../core/invariants/check.js';
import { ClientLearner, type LearnerSettings } from '../core/learning/client-learner.js';
import { ServerLearner } from '../core/learning/server-learner.js';
import type { LanguageModel } from '../core/models/model.js';
import { ProtocolOnlyAlignment } from '../core/models/protocol-only.js';
import type { Scheduler } from '../core/schedule/choices.js';
import type { FaultSpace } from '../core/schedule/fault-space.js';
import type { clientMachine } from '../machines/client.js';
import type { serverMachine } from '../machines/server.js';
import type { DecodeContext } from '../core/protocol/codec.js';
import { isProtocolOnly, neverEndsAfterMs, type ClientConfig, type Scenario, type ServerConfig } from '../core/scenario/schema.js';
import { MemoryTransport, type ScheduledDelivery } from '../core/transport/memory.js';
import type { Transport } from '../core/transport/transport.js';
import type { Tokenizer } from '../core/tokenizers/tokenizer.js';
import { createClientActor } from './client-actor.js';
import { loadFederationData, type FederationData } from './federation-data.js';
import type { RunEvent } from '../core/records.js';
import { RunRecorder } from './run-recorder.js';
import { actorCheckpoints, recordsBeforeResume, recordsSoFar, removeCheckpointsAfter, checkpointOwnLogits, type ResumePoint } from './round-checkpoints.js';
import { createServerActor } from './server-actor.js';
import { type PopulationHost, PopulationProfiles } from './population-host.js';
import { populationSide, replayPopulationCut, type PopulationRoles } from './population-run.js';
import type { DeploymentPopulation } from './population-remote.js';
import { PopulationModel, residentScenario } from '../core/population/population.js';
import type { Spawn } from '../core/faults/controller.js';
import { createAsyncClientActor } from './async-client-actor.js';
import { createAsyncServerActor } from './async-server-actor.js';
import { clientEndBounds, linkOfProfile, type ComputeQueue } from './work.js';
import { endStates, traceViolations, wallClockSettled } from './run-end.js';

/** What the learning side must supply to run a scenario: models and token alignment. */
export interface LearningStack {
  tokenizer(name: string): Promise<Tokenizer>;
  createModel(party: ServerConfig | ClientConfig, tokenizer: Tokenizer, data: FederationData, seed: number, worldSeed: number): Promise<LanguageModel>;
  aligner(): TokenAlignment;
  /** A model from a round checkpoint (`model.save`'s folder), to resume a run. */
  restoreModel?(dir: string, tokenizer: Tokenizer): Promise<LanguageModel>;
  /** Serialises model work in this process; null when models live in worker threads. */
  computeQueue?: ComputeQueue | null;
  /** Release what the stack holds (worker threads). */
  close?(): Promise<void>;
}

export interface RunOptions {
  /** Where events.jsonl, metrics.jsonl, timings.jsonl and scenario.yaml go; none when absent. */
  outDir?: string;
  learning: LearningStack;
  /** Called for every recorded event (progress display, live view). */
  onEvent?: (event: RunEvent) => void;
  /** The run's data when the caller already loaded it (same scenario); else loaded here. */
  data?: FederationData;
  /**
   * Called once every actor has stopped, before the models are disposed: final evaluation of
   * each party's model (`server`, then the clients in scenario order), e.g. Rouge-L of a generation task.
   */
  onFinish?: (parties: readonly { id: string; model: LanguageModel }[], data: FederationData) => Promise<void>;
  /**
   * Deployment over a shared transport (NATS): the transport and a wall clock, and which
   * actors live in this process (default: all). Without it: in-memory transport, virtual clock.
   */
  deployment?: {
    transport: Transport;
    clock: WallClock;
    parties?: readonly string[];
    beforeServer?: () => Promise<void>;
    /** A population hosted by several processes (actors/population-remote.ts); none: hosted with the server. */
    population?: DeploymentPopulation;
  };
  /** Write round checkpoints into `outDir`/checkpoints, which a run resumes from (needs `outDir`). */
  checkpoints?: boolean;
  /** Resume the run in `outDir` from these checkpoints (see round-checkpoints.ts): its records so far are kept. */
  resume?: ResumePoint;
  /**
   * This process replaces one that was killed: its actors come back where they were, each from
   * what it persisted in `outDir`/state (faults.persist: disk), the records so far kept, while
   * the rest of a deployment goes on.
   */
  restart?: boolean;
  /** Exploration and replay of schedules (core/schedule): who makes every choice, and which faults it may add. */
  schedule?: {
    scheduler: Scheduler;
    space?: FaultSpace | null;
    /** Stop the run early (the explorer has seen the rest from this state); checked after every event. */
    stopWhen?: () => boolean;
    /** Handed the run's state, for telling states apart. */
    onStart?: (world: { digest(): string }) => void;
    /** Virtual time after which a run that has not ended is cut off (it never ends). */
    limitMs?: number;
  };
  /** Machine definitions to run instead of the project's (variants with planted bugs test the checkers). */
  machines?: MachineVariants;
  /** Local runs: virtual seconds per wall second at most, so that a person can follow (`run --ui-pace`). */
  pace?: number;
}

export interface MachineVariants {
  server?: typeof serverMachine;
  client?: typeof clientMachine;
  /** What a restart makes of an actor's persisted snapshot (default: nothing). */
  onRestore?: (actor: string, snapshot: unknown) => unknown;
}

export interface RunResult {
  recorder: RunRecorder;
  /** Final state of each actor (`done`, `failed`, or where it stalled). */
  finalStates: Record<string, string>;
  failures: Record<string, string>;
  /** Protocol invariants the event trace breaks (core/invariants); empty for a sound run. */
  violations: Violation[];
  virtualMs: number;
  /** Wall seconds from the actors' start to the last one stopping (setup excluded). */
  roundsWallSeconds: number;
  /** Wall seconds of the whole call, model creation and pretraining included. */
  wallSeconds: number;
  /** The schedule's `stopWhen` ended the run early: its end was not reached. */
  stopped: boolean;
  /** The run had not ended by its limit of virtual time (it never ends). */
  timedOut: boolean;
}

export async function runFederation(given: Scenario, options: RunOptions): Promise<RunResult> {
  const recorder = new RunRecorder();
  try {
    return await federate(given, options, recorder);
  } finally {
    recorder.close(); // also when the run throws: the files written so far stay readable and complete
  }
}

async function federate(given: Scenario, options: RunOptions, recorder: RunRecorder): Promise<RunResult> {
  const wallStart = process.hrtime.bigint();
  const frame = openRun(given, options, recorder);
  const parts = await prepareLearning(frame);
  const { models, roles, asyncMode } = await addActors(frame, parts);
  const ran = await runToEnd(frame, roles?.done);
  const { finalStates, failures } = endStates(frame.controller, frame.localIds, ran);
  frame.controller.stop();
  roles?.close();
  frame.host?.close();
  await frame.transport.close();
  const { scenario, population, clock, clientIds, localIds, profiles } = frame;
  const violations = traceViolations(recorder.events, {
    scenario,
    population: population !== null,
    split: options.deployment?.population !== undefined,
    clientIds,
    local: localIds.length,
    endWithinMs: clock instanceof VirtualClock ? () => clientEndBounds(scenario, parts.data, profiles, options.schedule?.space ?? null) : null,
    asyncMode,
    stopped: ran.stopped,
  });
  try {
    if (options.onFinish) await options.onFinish(models, parts.data);
  } finally {
    for (const m of models) m.model.dispose();
  }
  await options.learning.close?.();
  const { virtualMs, roundsWallSeconds, stopped, timedOut } = ran;
  return {
    recorder,
    finalStates,
    failures,
    violations,
    virtualMs,
    roundsWallSeconds,
    wallSeconds: Number(process.hrtime.bigint() - wallStart) / 1e9,
    stopped,
    timedOut,
  };
}

/** What every part of a run shares once its records, clock, profiles and faults are set up. */
interface RunFrame {
  scenario: Scenario;
  run: string;
  options: RunOptions;
  recorder: RunRecorder;
  population: PopulationModel | null;
  clock: Clock;
  clientIds: string[];
  /** The actors this process runs (all of them, but in a deployment). */
  local: Set<string>;
  localClients: string[];
  localIds: string[];
  profiles: ProfileSource;
  controller: FaultController;
  /** The one interceptor between actors and the transport: every message fault happens here. */
  transport: FaultInterceptor;
  /** The records of the run before its resume point. */
  earlier: ReturnType<typeof recordsBeforeResume> | undefined;
  /** The in-memory transport (none in a deployment). */
  memory: MemoryTransport | null;
  /** Who is told of every publish the in-memory transport schedules (a population's checkpoints). */
  taps: { delivery?: (delivery: ScheduledDelivery) => void };
  /** A population's host (set once the actors are added). */
  host?: PopulationHost;
}

/** The run's records, clock, straggler profiles, fault controller and transport, after checking the options fit the scenario. */
function openRun(given: Scenario, options: RunOptions, recorder: RunRecorder): RunFrame {
  // A population every client of which takes part in every round runs as the same clients listed.
  const scenario = residentScenario(withTraceInlined(given));
  const population = scenario.population ? PopulationModel.of(scenario) : null;
  if (population && options.deployment && options.resume) throw new Error('population: a population over NATS runs from its start (resuming: locally)');
  if (options.deployment?.population && !population) throw new Error('a population split over processes needs a scenario with a population');
  if (options.resume && (population !== null) !== (options.resume.population !== undefined))
    throw new Error(
      `resume: ${population ? 'a population run resumes from its population checkpoint too' : 'a population checkpoint is for a population run'}`,
    );
  if (options.onEvent) recorder.onEvent(options.onEvent);
  const { deployment, resume, outDir, restart, schedule } = options;
  if (resume && !outDir) throw new Error('resume: a run resumes in its output folder (outDir), where its checkpoints and records are');
  if (restart && (resume || !outDir || scenario.faults.persist !== 'disk'))
    throw new Error('restart: actors come back from what they persisted in their run folder (outDir): the scenario needs faults.persist: disk (and no resume)');
  if (options.checkpoints && !outDir) throw new Error('checkpoints: they go into the output folder (run --out DIR)');
  const earlier = resume ? recordsBeforeResume(outDir!, resume) : undefined;
  if (resume?.population) removeCheckpointsAfter(outDir!, { actors: ['server'], population: true }, resume.afterRound);
  if (scenario.faults.persist === 'disk' && !outDir) throw new Error('faults.persist: disk needs an output folder (run --out DIR)');
  const store = scenario.faults.persist === 'disk' ? new DiskStateStore(join(outDir!, 'state')) : new MemoryStateStore();
  if (outDir) {
    const recordedOf = (actor: string) => (store.load(actor)?.local as { recorded?: number } | undefined)?.recorded;
    recorder.streamTo(outDir, restart ? recordsSoFar(outDir, recordedOf) : earlier?.records);
    writeFileSync(join(outDir, 'scenario.yaml'), stringify(scenario));
  }
  // A resumed population starts where its clients still busy at the checkpoint were selected.
  const clock: Clock = deployment?.clock ?? new VirtualClock(Math.min(resume?.at ?? 0, ...(resume?.population?.cut.live.map((c) => c.since) ?? [])));
  if (schedule && !(clock instanceof VirtualClock)) throw new Error('schedules (exploration, --schedule) need the virtual clock of an in-memory run');
  if (schedule && clock instanceof VirtualClock) clock.useScheduler(schedule.scheduler);
  const clientIds = scenario.clients.map((c) => c.id);
  const local = new Set(deployment?.parties ?? ['server', ...clientIds]);
  for (const id of local)
    if (id !== 'server' && !clientIds.includes(id)) throw new Error(`unknown party "${id}": the scenario has server, ${clientIds.join(', ')}`);
  const localClients = clientIds.filter((id) => local.has(id));
  const profiles = population
    ? new PopulationProfiles(scenario, population)
    : straggledProfiles(
        scenario.seed,
        new Map<string, ServerConfig['profile']>([['server', scenario.server.profile], ...scenario.clients.map((c) => [c.id, c.profile] as const)]),
        clientIds,
        scenario.faults.stragglers,
      );
  // Drawn again from the seed when resuming; recorded once, by the run that started.
  if (!resume && !restart)
    for (const d of profiles.drawn) recorder.event({ t: 0, actor: d.client, round: 0, kind: 'straggler', ...profiles.linkProfile(d.client), ...omitClient(d) });
  const taps: RunFrame['taps'] = {};
  const tap = population && options.checkpoints ? (d: ScheduledDelivery) => taps.delivery?.(d) : undefined;
  const memory = deployment ? null : new MemoryTransport(clock, (sender) => linkOfProfile(profiles.linkProfile(sender)), tap);
  const inner = deployment?.transport ?? memory!;
  const controller = new FaultController({
    seed: scenario.seed,
    faults: scenario.faults,
    clock,
    recorder,
    store,
    profiles,
    ...(schedule ? { scheduler: schedule.scheduler, space: schedule.space ?? null, addPartition: (p, cause) => transport.addPartition(p, cause) } : {}),
  });
  const transport = new FaultInterceptor(inner, {
    clock,
    seed: scenario.seed,
    recorder,
    status: controller,
    rules: scenario.faults.messages,
    partitions: scenario.faults.partitions,
    ...(schedule ? { scheduler: schedule.scheduler, space: schedule.space ?? null } : {}),
  });
  const localIds = [...(local.has('server') ? ['server'] : []), ...localClients];
  return {
    scenario,
    run: scenario.name,
    options,
    recorder,
    population,
    clock,
    clientIds,
    local,
    localClients,
    localIds,
    profiles,
    controller,
    transport,
    earlier,
    memory,
    taps,
  };
}

/** What the learners are made from: data, tokenizers, the decoder's limits, the aligner. */
interface LearningParts {
  data: FederationData;
  tokenizers: Map<string, Tokenizer>;
  decode: DecodeContext;
  aligner: TokenAlignment;
  settings: (party: ServerConfig | ClientConfig) => LearnerSettings;
}

async function prepareLearning({ scenario, options, population, clientIds, local }: RunFrame): Promise<LearningParts> {
  const data = options.data ?? (await loadFederationData(scenario));
  const { learning } = options;
  const tokenizers = new Map<string, Tokenizer>();
  const clientTokenizers = [...scenario.clients, ...(scenario.population?.clients ?? [])].map((c) => c.tokenizer);
  for (const name of new Set([scenario.server.tokenizer, ...clientTokenizers])) tokenizers.set(name, await learning.tokenizer(name));
  const vocabSizes = new Map([...tokenizers].map(([name, t]) => [name, t.vocabSize]));
  const decode: DecodeContext = {
    knownSenders: population ? { has: (id: string) => id === 'server' || population.indexOf(id) !== null } : new Set(['server', ...clientIds]),
    expectedSamples: data.publicSet.length,
    maxBytes: scenario.protocol.maxMessageBytes,
    vocabSize: (tokenizer: string) => vocabSizes.get(tokenizer),
  };
  // The protocol alone (model: null) needs no MinED: its teachers only carry the sender's CE.
  const protocolOnly = isProtocolOnly(scenario);
  const aligner: TokenAlignment = protocolOnly ? new ProtocolOnlyAlignment() : learning.aligner();
  // Vocabulary mappings, once per direction between the server's and each local client's
  // tokenizer, built or loaded before round 1 rather than inside it.
  for (const c of [...scenario.clients, ...(scenario.population?.clients.map((t) => ({ ...t, id: '' })) ?? [])]) {
    const here = population !== null || local.has(c.id);
    if (!here && !local.has('server')) continue;
    if (c.tokenizer === scenario.server.tokenizer || protocolOnly) continue;
    if (local.has('server')) await aligner.prepare?.(c.tokenizer, scenario.server.tokenizer);
    if (here) await aligner.prepare?.(scenario.server.tokenizer, c.tokenizer);
  }
  const settings = (party: ServerConfig | ClientConfig): LearnerSettings => ({
    topK: scenario.protocol.topK,
    kdAlpha: scenario.protocol.kdAlpha,
    temperature: scenario.protocol.temperature,
    alignmentFallback: scenario.protocol.alignmentFallback,
    ...party.training,
  });
  return { data, tokenizers, decode, aligner, settings };
}

/** Every local actor handed to the fault controller (which creates, crashes and restarts them), with its model and learner. */
async function addActors(
  frame: RunFrame,
  parts: LearningParts,
): Promise<{ models: { id: string; model: LanguageModel }[]; roles: PopulationRoles | null; asyncMode: boolean }> {
  const { scenario, run, options, recorder, population, clock, local, controller, transport, earlier } = frame;
  const { data, tokenizers, decode, aligner, settings } = parts;
  const { learning, resume, outDir } = options;
  const partyModel = async (id: string, party: ServerConfig | ClientConfig, seed: number): Promise<LanguageModel> => {
    const tokenizer = tokenizers.get(party.tokenizer)!;
    const checkpoint = resume?.actors[id];
    if (!checkpoint) return learning.createModel(party, tokenizer, data, seed, scenario.seed);
    if (!learning.restoreModel) throw new Error(`resume: this learning stack cannot restore ${id}'s model from ${checkpoint.dir}`);
    return learning.restoreModel(checkpoint.dir, tokenizer);
  };
  const writeCheckpoints = outDir !== undefined && options.checkpoints === true;
  /** An actor's round checkpoints to write, and the one it resumes from. */
  const checkpointing = (id: string, model: LanguageModel, also?: Parameters<typeof actorCheckpoints>[4]) => ({
    ...(writeCheckpoints ? { checkpoints: actorCheckpoints(outDir, id, model, clock, also) } : {}),
    ...(resume && earlier ? { resume: { afterRound: resume.afterRound, local: resume.actors[id]?.local, usedSequence: earlier.usedSequence[id] ?? 0 } } : {}),
  });
  // Buffered and asynchronous FedMKT run their own machines (docs/async.md); the paper's round otherwise.
  const asyncMode = scenario.protocol.mode !== 'sync';
  if (asyncMode && (resume || options.machines || population))
    throw new Error(`protocol.mode ${scenario.protocol.mode}: resuming, machine variants and populations are for sync runs only`);
  const common = { scenario, run, clock, recorder, decode, computeQueue: learning.computeQueue };
  const onRestore = (id: string) => (options.machines?.onRestore ? { onRestore: (s: unknown) => options.machines!.onRestore!(id, s) } : {});
  /** A client's actor, for the fault controller to spawn (and respawn after a crash). */
  const clientActor =
    (config: ClientConfig, learner: ClientLearner, extra: { population?: { round: number; evaluate: boolean; template: number } } = {}): Spawn =>
    (hooks) => {
      const deps = {
        ...common,
        config,
        learner,
        transport: transport.view(config.id),
        hooks,
        ...(options.machines?.client ? { machine: options.machines.client } : {}),
        ...onRestore(config.id),
        ...(extra.population ? {} : checkpointing(config.id, learner.model)),
      };
      if (asyncMode) return createAsyncClientActor(deps);
      return createClientActor({ ...deps, ...(extra.population ? { population: extra.population } : {}) });
    };
  const side = population
    ? populationSide({
        scenario,
        model: population,
        controller,
        clock,
        recorder,
        profiles: frame.profiles as PopulationProfiles,
        pool: data.pool ?? [],
        learner: async (config, index, privateSet) =>
          new ClientLearner(
            await learning.createModel(config, tokenizers.get(config.tokenizer)!, data, scenario.seed + 1 + index, scenario.seed),
            { privateSet, publicSet: data.publicSet, testSet: data.testSet },
            aligner,
            settings(config),
          ),
        actor: (config, learner, part) => clientActor(config, learner, { population: part }),
        memory: frame.memory,
        taps: frame.taps,
        checkpoints: writeCheckpoints,
        resume: resume?.population,
        serverHere: local.has('server'),
        ...(options.deployment?.population ? { split: { transport: options.deployment.transport, population: options.deployment.population } } : {}),
      })
    : null;
  if (side) frame.host = side.host;
  const host = side?.host;
  const roles = side?.roles ?? null;

  const models: { id: string; model: LanguageModel }[] = [];
  if (local.has('server')) {
    const serverModel = await partyModel('server', scenario.server, scenario.seed);
    models.push({ id: 'server', model: serverModel });
    const serverLearner = new ServerLearner(serverModel, { publicSet: data.publicSet, testSet: data.testSet }, aligner, settings(scenario.server));
    const kept = resume?.actors.server ? checkpointOwnLogits(resume.actors.server.dir) : null;
    if (kept) serverLearner.restoreOwnLogits(kept);
    controller.add('server', 'server', (hooks) =>
      (asyncMode ? createAsyncServerActor : createServerActor)({
        ...common,
        learner: serverLearner,
        transport: transport.view('server'),
        hooks,
        ...(options.machines?.server ? { machine: options.machines.server } : {}),
        ...onRestore('server'),
        ...checkpointing('server', serverModel, { ownLogits: () => serverLearner.cachedOwnLogits(), ...(host ? { population: host } : {}) }),
        ...(roles ? { population: roles.selection } : {}),
      }),
    );
  }
  for (const [i, config] of scenario.clients.entries()) {
    // A client process reads only its own private shard.
    if (!local.has(config.id)) continue;
    const model = await partyModel(config.id, config, scenario.seed + 1 + i);
    models.push({ id: config.id, model });
    const learner = new ClientLearner(model, { privateSet: data.privateSets[i]!, publicSet: data.publicSet, testSet: data.testSet }, aligner, settings(config));
    controller.add(config.id, 'client', clientActor(config, learner));
  }
  return { models, roles, asyncMode };
}

interface Ran {
  virtualMs: number;
  roundsWallSeconds: number;
  stopped: boolean;
  timedOut: boolean;
  /** The virtual time by which a run that has not ended never will. */
  limitMs: number;
}

/** Creates (or restores) and starts the actors, then runs the clock until they have all stopped, or the schedule stops the run. */
async function runToEnd(
  frame: RunFrame,
  /** Besides every local actor having stopped: a process hosting part of a population is done only when the run is. */
  hostDone: () => boolean = () => true,
): Promise<Ran> {
  const { scenario, options, recorder, clock, controller, transport, local, localClients, localIds } = frame;
  const { resume, restart, deployment, schedule } = options;
  let roundsStart = process.hrtime.bigint();
  let started = false;
  const start = async () => {
    // Created server first; started clients first, so they listen before the server's first
    // announcement is delivered.
    if (resume)
      for (const id of localIds)
        recorder.event({ t: clock.now(), actor: id, round: resume.afterRound, kind: 'resume', fromRound: resume.actors[id]?.round ?? 0 });
    if (restart) controller.restore(localIds);
    else controller.create(localIds);
    controller.start([...localClients].reverse());
    // Over NATS, the server waits until the clients are listening (their presence) before round 1:
    // deployment setup, not round time.
    if (local.has('server')) {
      if (deployment?.beforeServer) {
        await deployment.beforeServer();
        roundsStart = process.hrtime.bigint();
      }
      controller.start(['server']);
    }
    started = true;
  };
  // A resumed population first replays the rounds its busy clients were in (population-run.ts).
  const replaying = frame.host && resume?.population ? replayPopulationCut(frame.host, resume.population, frame, start) : false;
  if (!replaying) await start();
  schedule?.onStart?.({
    digest: () => `${clock.now()}|${(clock as VirtualClock).pendingDigest()}|${controller.digest()}|${transport.digest()}|${recorder.acceptedDigest()}`,
  });
  let stopped = false;
  const until = () => (started && controller.settled()) || (schedule?.stopWhen?.() === true && (stopped = true));
  // A virtual-clock run that has not ended by then never will (a wait without a deadline, say).
  const limitMs = schedule?.limitMs ?? neverEndsAfterMs(scenario) + clock.now();
  const virtualMs =
    clock instanceof VirtualClock
      ? await clock.run({ until, limitMs, ...(options.pace ? { pace: options.pace } : {}) })
      : await wallClockSettled(() => controller.settled() && hostDone());
  const timedOut = !stopped && !controller.settled();
  return { virtualMs, roundsWallSeconds: Number(process.hrtime.bigint() - roundsStart) / 1e9, stopped, timedOut, limitMs };
}

function omitClient<T extends { client: string }>(row: T): Omit<T, 'client'> {
  const { client: _client, ...rest } = row;
  return rest;
}
