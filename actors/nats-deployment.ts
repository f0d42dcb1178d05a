/**
 * Running a scenario over NATS: the same actors and machines as a local run, on the NATS
 * transport with the wall clock, one process for the whole federation or one per actor.
 * Every actor publishes its events on the monitoring subject; the server process waits for
 * the clients' presence there before it opens round 1, so nobody misses the announcement.
 *
 * Resuming a deployment: every process finds its actors' round checkpoints in its own output
 * folder. They agree on the round to resume after on the monitoring subject: each actor offers
 * the rounds it checkpointed (`resume-offer`), the server's process picks the latest round all
 * of them hold and announces it (`resume-cut`), and every process restores its actors from that
 * round before they start.
 *
 * Restarting one process: with `faults.persist: disk` every actor's state follows each change on
 * disk, and a process started with `restart` in place of a killed one brings its actors back
 * where they were while the others go on. With durable uploads (JetStream), what clients
 * uploaded meanwhile waits in the stream for the server.
 */
import { WallClock } from '../core/clock/clock.js';
import { noteWallClock } from '../core/run-clock.js';
import { readNatsCredential, credentialLogin } from '../core/nats/access-config.js';
import { startNatsServer } from '../core/nats/server-process.js';
import type { Scenario } from '../core/scenario/schema.js';
import { NatsTransport, type UploadAckMode } from '../core/transport/nats-transport.js';
import { runFederation, type LearningStack, type RunResult } from './federation.js';
import { publishEvents, watchEvents } from './monitor.js';
import { populationPartActor } from '../core/pseudo-actors.js';
import type { DeploymentPopulation } from './population-remote.js';
import { checkpointedRounds, commonRound, resumePointAt, type ResumePoint } from './round-checkpoints.js';
import type { RunEvent } from '../core/records.js';

export interface NatsRunOptions {
  /** NATS server URL(s); with `spawn` a local server is started instead. */
  servers?: string | string[];
  /** Start a local nats-server on a free loopback port for this run and stop it after. */
  spawn?: boolean;
  /** Which actors run in this process: `server`, client ids; default all. */
  parties?: readonly string[];
  /** A credential file written by `fedmkt nats-config` (single-actor processes). */
  credentialFile?: string;
  /**
   * How uploads travel (docs/nats.md): `request-reply` (default, core NATS) or `jetstream`
   * (durable: a file stream on the server, which must run JetStream). Every process of a
   * deployment uses the same.
   */
  uploads?: UploadAckMode;
  learning: LearningStack;
  outDir?: string;
  onEvent?: (event: RunEvent) => void;
  /** How long the server waits for absent clients before opening round 1 anyway (default 60 s). */
  presenceTimeoutMs?: number;
  /** Write round checkpoints into `outDir`. */
  checkpoints?: boolean;
  /** Resume from the round checkpoints in `outDir`, after the latest round every actor (in every process) holds. */
  resume?: boolean;
  /** How long to wait for the other processes' checkpoint offers, or for the server's choice (default 60 s). */
  resumeTimeoutMs?: number;
  /** This process replaces one that was killed: its actors go on from the state they persisted in `outDir` (faults.persist: disk). */
  restart?: boolean;
  /**
   * A population split over processes: `parts` of them host its clients, this one part `part`
   * (with `parties` empty) or none (the server's process). Without it, a population's clients
   * are hosted where the server runs.
   */
  population?: { parts: number; part?: number; timeoutMs?: number };
  log?: (line: string) => void;
}

export async function runOverNats(scenario: Scenario, options: NatsRunOptions): Promise<RunResult> {
  const run = scenario.name;
  const clientIds = scenario.clients.map((c) => c.id);
  const split = options.population;
  checkPopulation(scenario, options);
  const hostsPart = split?.part !== undefined;
  const parties = options.parties ?? (hostsPart ? [] : ['server', ...clientIds]);
  // Whom the server waits for before round 1: the listed clients, or the processes hosting the population's parts.
  const expected = split ? Array.from({ length: split.parts }, (_, k) => populationPartActor(k)) : clientIds;
  const durable = options.uploads === 'jetstream';
  const spawned = options.spawn ? await startNatsServer({ jetstream: durable }) : null;
  const servers = spawned?.url ?? options.servers;
  if (!servers) throw new Error('NATS: give a server URL (--nats URL) or --spawn-nats');
  if (spawned) options.log?.(`started nats-server at ${spawned.url}`);
  const login = options.credentialFile ? credentialLogin(readNatsCredential(options.credentialFile)) : undefined;
  if (login && !hostsPart && (parties.length !== 1 || parties[0] !== login.name))
    throw new Error(`NATS credential ${options.credentialFile} is for "${login.name}"; this process runs ${parties.join(', ')}`);
  const transport = await NatsTransport.connect({
    servers,
    name: hostsPart ? `fedmkt-${run}-${populationPartActor(split!.part!)}` : parties.length === 1 ? `fedmkt-${run}-${parties[0]}` : `fedmkt-${run}`,
    ...(login ? { user: login.user, nkeySeed: login.nkeySeed, inboxPrefix: login.inboxPrefix } : {}),
    ...(durable ? { uploadAcks: 'jetstream' as const, run } : {}),
    logger: { warn: (line: string) => options.log?.(line), error: (line: string) => options.log?.(line) },
  });
  options.log?.(`connected to ${transport.server} (max payload ${transport.maxPayload} bytes${durable ? '; uploads through JetStream' : ''})`);

  // Presence: each local client says it is listening until the server's first announcement reaches it.
  const present = new Set<string>();
  const monitor = publishEvents(transport, run, (error) => options.log?.(`monitoring publish failed: ${error.message}`));
  const presence = new PresenceBeats(monitor);
  if (options.restart && (options.resume || !options.outDir))
    throw new Error('restart over NATS: give the output folder of the killed process (and not resume)');
  const negotiation = options.resume ? new ResumeNegotiation(monitor, parties, ['server', ...clientIds], options) : null;
  // The server's process hears every actor (presence, offers); a client's only the server (the
  // round to resume after), which is all its credential lets it read.
  const hearsAll = parties.includes('server');
  // Others that follow the run's events here (a split population's selection: the parts' dropouts).
  const listeners: ((event: RunEvent) => void)[] = [];
  const watcher = watchEvents(
    transport,
    run,
    (e) => {
      if (hearsAll && (e.kind === 'presence' || (e.actor !== 'server' && e.kind !== 'resume-offer'))) present.add(e.actor);
      negotiation?.heard(e);
      for (const listener of listeners) listener(e);
    },
    undefined,
    hearsAll ? '*' : 'server',
  );
  const onEvent = (event: RunEvent) => {
    monitor(event);
    options.onEvent?.(event);
    if (event.kind === 'state' && event.actor !== 'server' && parties.includes(event.actor)) presence.start(event.actor);
    if (event.kind === 'accepted' && event.message === 'round-start') presence.stop(event.actor);
  };
  const population = split ? splitPopulation(split, presence, listeners, options.log) : undefined;

  try {
    const resume = negotiation ? await negotiation.cut() : undefined;
    // The rounds after the cut are run again, their uploads made again: what the interrupted run stored is stale.
    if (resume && durable && parties.includes('server')) {
      const chunks = await transport.discardStoredUploads();
      if (chunks > 0) options.log?.(`discarded ${chunks} stored upload chunks of the interrupted run (its rounds after ${resume.afterRound} are run again)`);
    }
    // Event times are epoch milliseconds: views count from the run's start (kept when it resumes).
    if (options.outDir) noteWallClock(options.outDir);
    return await runFederation(scenario, {
      learning: options.learning,
      onEvent,
      ...(options.outDir ? { outDir: options.outDir } : {}),
      ...(options.checkpoints ? { checkpoints: true } : {}),
      ...(resume ? { resume } : {}),
      ...(options.restart ? { restart: true } : {}),
      deployment: {
        transport,
        clock: new WallClock(),
        parties,
        ...(population ? { population } : {}),
        beforeServer: async () => {
          // A restarted server goes on in its round: the clients are there already.
          if (options.restart) return;
          const deadline = Date.now() + (options.presenceTimeoutMs ?? 60_000);
          while (Date.now() < deadline && expected.some((id) => !present.has(id))) await sleep(50);
          const missing = expected.filter((id) => !present.has(id));
          const who = split ? `${expected.length} population parts` : scenario.population ? 'the population here' : `${clientIds.length} clients`;
          options.log?.(
            `${missing.length ? `opening round ${(resume?.afterRound ?? 0) + 1} without ${missing.join(', ')} (no presence)` : `all ${who} present`}`,
          );
          negotiation?.stop();
        },
      },
    });
  } finally {
    presence.stopAll();
    negotiation?.stop();
    try {
      watcher.unsubscribe();
    } catch {
      // the run already closed the connection
    }
    await transport.close();
    await spawned?.stop();
  }
}

/** What a population's split needs of a deployment; see NatsRunOptions.population. */
function checkPopulation(scenario: Scenario, options: NatsRunOptions): void {
  const split = options.population;
  if (split && !scenario.population) throw new Error(`population parts: scenario ${scenario.name} lists its clients; it has no population to split`);
  if (scenario.population && (options.resume || options.restart)) throw new Error('a population over NATS runs from its start (no --resume or --restart)');
  if (split && options.credentialFile) throw new Error('a population split over processes runs without per-actor credentials (--creds) for now');
}

/** A process hosting part of a population is present from when it listens for the server's requests until the first one. */
function splitPopulation(
  split: { parts: number; part?: number; timeoutMs?: number },
  presence: PresenceBeats,
  listeners: ((event: RunEvent) => void)[],
  log: ((line: string) => void) | undefined,
): DeploymentPopulation {
  const actor = split.part === undefined ? null : populationPartActor(split.part);
  return {
    ...split,
    watch: (listener) => {
      listeners.push(listener);
    },
    ...(actor ? { onListening: () => presence.start(actor), onRequest: () => presence.stop(actor) } : {}),
    ...(log ? { log } : {}),
  };
}

/** Presence on the monitoring subject: an actor (or a hosting process) says every 500 ms that it listens, until stopped. */
class PresenceBeats {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly monitor: (event: RunEvent) => void) {}

  /** Once per actor: beats are not taken up again after they stop. */
  start(id: string): void {
    if (this.timers.has(id)) return;
    const beat = () => this.monitor({ t: Date.now(), actor: id, round: 0, kind: 'presence' });
    beat();
    this.timers.set(id, setInterval(beat, 500));
  }

  stop(id: string): void {
    clearInterval(this.timers.get(id));
  }

  stopAll(): void {
    for (const t of this.timers.values()) clearInterval(t);
  }
}

/**
 * Agreeing on the round a resumed deployment starts after. Each local actor offers its
 * checkpointed rounds every 500 ms; the process of the server, once every actor has offered,
 * picks the latest common round and announces it every 500 ms until round r + 1 opens.
 */
class ResumeNegotiation {
  private readonly offers = new Map<string, number[]>();
  private announced: { round: number | null; why?: string } | undefined;
  private offerTimer: NodeJS.Timeout | undefined;
  private announceTimer: NodeJS.Timeout | undefined;
  private readonly rounds: Record<string, number[]>;
  private readonly outDir: string;

  constructor(
    private readonly monitor: (event: RunEvent) => void,
    private readonly parties: readonly string[],
    private readonly everyone: readonly string[],
    private readonly options: NatsRunOptions,
  ) {
    if (!options.outDir) throw new Error("resume over NATS: give the output folder (--out DIR) that holds this process's checkpoints");
    this.outDir = options.outDir;
    this.rounds = checkpointedRounds(this.outDir, parties);
    for (const [id, list] of Object.entries(this.rounds)) this.offers.set(id, list);
  }

  heard(event: RunEvent): void {
    if (event.kind === 'resume-offer' && Array.isArray(event.rounds)) {
      this.offers.set(
        event.actor,
        (event.rounds as unknown[]).filter((r): r is number => Number.isInteger(r)),
      );
    }
    if (event.kind === 'resume-cut' && event.actor === 'server' && !this.announced) {
      this.announced = { round: typeof event.afterRound === 'number' ? event.afterRound : null, ...(typeof event.why === 'string' ? { why: event.why } : {}) };
    }
  }

  /** Where this process's actors resume (throws when the deployment has no round in common). */
  async cut(): Promise<ResumePoint> {
    const offer = () => {
      for (const [id, list] of Object.entries(this.rounds)) this.monitor({ t: Date.now(), actor: id, round: 0, kind: 'resume-offer', rounds: list });
    };
    offer();
    this.offerTimer = setInterval(offer, 500);
    const timeoutMs = this.options.resumeTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    if (this.parties.includes('server')) {
      while (this.everyone.some((id) => !this.offers.has(id)) && Date.now() < deadline) await sleep(50);
      const silent = this.everyone.filter((id) => !this.offers.has(id));
      if (silent.length > 0)
        throw new Error(
          `resume over NATS: no checkpoint offer from ${silent.join(', ')} within ${timeoutMs / 1000} s (is every process started with --resume?)`,
        );
      let afterRound: number | null = null;
      let why: string | undefined;
      try {
        afterRound = commonRound(Object.fromEntries(this.everyone.map((id) => [id, this.offers.get(id)!])), 'the deployment');
      } catch (error) {
        why = (error as Error).message;
      }
      this.announced = { round: afterRound, ...(why ? { why } : {}) };
      const announce = () => this.monitor({ t: Date.now(), actor: 'server', round: 0, kind: 'resume-cut', afterRound, ...(why ? { why } : {}) });
      announce();
      this.announceTimer = setInterval(announce, 500);
    } else {
      while (!this.announced && Date.now() < deadline) await sleep(50);
      if (!this.announced) throw new Error(`resume over NATS: the server did not say which round to resume after within ${timeoutMs / 1000} s`);
    }
    clearInterval(this.offerTimer);
    const { round, why } = this.announced!;
    if (round === null) throw new Error(why ?? 'resume over NATS: the server found no round to resume after');
    this.options.log?.(`resuming after round ${round}, the latest round every actor checkpointed`);
    return resumePointAt(this.outDir, this.parties, round);
  }

  stop(): void {
    clearInterval(this.offerTimer);
    clearInterval(this.announceTimer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
