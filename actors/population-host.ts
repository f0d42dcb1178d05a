/**
 * A population's clients in a local run: chosen each round by the server's selection, brought up
 * (model, shard, actor) for that round only, and released after it. Between the rounds it takes
 * part in, a client is its index (id, template, profile, shard and availability follow from the
 * seed) and, once it has learnt something, its adapter: memory grows with the clients of a
 * round, not with the population.
 */
import type { Clock, TimerId } from '../core/clock/clock.js';
import type { FaultController } from '../core/faults/controller.js';
import type { ProfileSource } from '../core/faults/stragglers.js';
import type { ClientLearner } from '../core/learning/client-learner.js';
import type { AdapterWeights, LanguageModel, TextSample } from '../core/models/model.js';
import type { Availability } from '../core/population/availability.js';
import type { PopulationModel } from '../core/population/population.js';
import { Selector } from '../core/population/selection.js';
import { templateKind } from '../core/population/templates.js';
import { shardOf, shardPool, shardsOverlap, type PopulationSplit, type ShardPool } from '../core/population/shards.js';
import type { ActorId } from '../core/protocol/messages.js';
import type { ClientConfig, Profile, Scenario } from '../core/scenario/schema.js';
import type { RunRecorder } from './run-recorder.js';

export interface PopulationHostDeps {
  scenario: Scenario;
  model: PopulationModel;
  controller: FaultController;
  clock: Clock;
  recorder: RunRecorder;
  /** The examples shards are drawn from (the task's training set outside the public set). */
  pool: readonly (TextSample & { domain: string })[];
  /** A learner for client `index` on its shard (its model created, its adapter not yet set). */
  learner(config: ClientConfig, index: number, privateSet: readonly TextSample[]): Promise<ClientLearner>;
  profiles: PopulationProfiles;
  /** The client's actor, for the controller to spawn (see federation.ts). */
  actor(config: ClientConfig, learner: ClientLearner, part: { round: number; evaluate: boolean; template: number }): Parameters<FaultController['add']>[2];
}

/** The clients of a round, up and listening, in announcement order, and the template each drew. */
export interface Chosen {
  clients: ActorId[];
  templates: number[];
}

/** A client chosen for a round, and whether its accuracy is measured after it. */
export interface ChosenClient {
  index: number;
  evaluate: boolean;
}

interface Live {
  index: number;
  model: LanguageModel;
  offlineTimer: TimerId | null;
}

export class PopulationHost {
  private readonly selector = new Selector();
  private readonly pool: ShardPool<TextSample & { domain: string }>;
  private readonly split: PopulationSplit;
  /** What a client keeps between the rounds it takes part in. */
  private readonly adapters = new Map<number, AdapterWeights>();
  private readonly live = new Map<ActorId, Live & { round: number }>();
  private readonly droppedOut = new Map<number, number>();

  constructor(private readonly deps: PopulationHostDeps) {
    this.pool = shardPool(deps.pool);
    const data = deps.scenario.population!.data;
    this.split =
      data.split === 'iid'
        ? { split: 'iid' }
        : data.split === 'dirichlet'
          ? { split: 'dirichlet', alpha: data.alpha }
          : { split: 'domain', otherDomainShare: data.otherDomainShare };
  }

  /** What the run says of its population before round 1 (shards overlapping when the data is short). */
  describe(): Record<string, unknown> {
    const { model, scenario } = this.deps;
    const shardSize = scenario.task.privateSamplesPerClient;
    return {
      count: model.count,
      perRound: model.perRound,
      announced: model.announced,
      strategy: scenario.selection?.strategy ?? 'random',
      shardSize,
      poolSize: this.pool.all.length,
      shardsOverlap: shardsOverlap(this.pool, model.count, shardSize),
      templates: scenario.population!.clients.map(templateKind),
    };
  }

  /** The server's selection for `round`: the chosen clients' actors are up before it announces the round to them. */
  async select(round: number): Promise<Chosen> {
    return this.bringUpChosen(round, this.choose(round, new Set(this.liveIndices())));
  }

  /**
   * Who takes part in `round`, in announcement order, and whether each is measured after it.
   * `busy`: clients still in an earlier round (stragglers), not chosen again.
   */
  choose(round: number, busy: ReadonlySet<number>): ChosenClient[] {
    const { model, scenario, clock } = this.deps;
    const now = clock.now();
    const availability: Availability = {
      alwaysOn: model.availability.alwaysOn && busy.size === 0,
      onlineUntil: (i, t) => (busy.has(i) ? null : model.availability.onlineUntil(i, t)),
    };
    const { selected } = this.selector.select({
      seed: scenario.seed,
      round,
      now,
      count: model.count,
      announced: model.announced,
      strategy: scenario.selection?.strategy ?? 'random',
      availability,
    });
    const evaluated = scenario.population!.evaluateClients;
    return selected.map((index, k) => ({ index, evaluate: k < evaluated }));
  }

  /** Bring up the actors of `chosen` for `round` (one still up from an earlier round is refused), with the template each drew. */
  async bringUpChosen(round: number, chosen: readonly ChosenClient[]): Promise<Chosen> {
    const { model, clock } = this.deps;
    const now = clock.now();
    const clients: ActorId[] = [];
    const templates: number[] = [];
    for (const { index, evaluate } of chosen) {
      if (this.live.has(model.idOf(index))) continue;
      const template = model.templateOf(index);
      clients.push(await this.bringUp(index, { round, evaluate, template }, model.availability.onlineUntil(index, now)));
      templates.push(template);
    }
    return { clients, templates };
  }

  private async bringUp(index: number, part: { round: number; evaluate: boolean; template: number }, onlineUntil: number | null): Promise<ActorId> {
    const { model, controller, clock, scenario } = this.deps;
    const config = model.configOf(index);
    this.deps.profiles.keep(index, config.profile);
    const shard = shardOf(this.pool, scenario.seed, index, scenario.task.privateSamplesPerClient, this.split);
    const learner = await this.deps.learner(config, index, shard);
    const adapter = this.adapters.get(index);
    if (adapter) learner.model.setAdapter(adapter);
    const id = config.id;
    const entry = { index, round: part.round, model: learner.model, offlineTimer: null as TimerId | null };
    this.live.set(id, entry);
    const spawn = this.deps.actor(config, learner, part);
    controller.add(
      id,
      'client',
      (hooks) => {
        // Dropped out (a fault): its actor is gone for good, its entry with it. A crash keeps the entry, to restart.
        hooks.life.onKilled(() => {
          if (!controller.has(id)) this.release(id, false);
        });
        const actor = spawn(hooks);
        // Every life of the actor (a crash restarts it): ended in a final state, the client finished its round.
        actor.subscribe({
          complete: () => {
            if ((actor.getSnapshot() as { status: string }).status === 'done') this.release(id, true);
          },
          error: () => this.release(id, false),
        });
        return actor;
      },
      { transient: true },
    );
    controller.create([id]);
    controller.start([id]);
    // Its device goes offline mid-round: a dropout at that moment.
    if (onlineUntil !== null && Number.isFinite(onlineUntil))
      entry.offlineTimer = clock.setTimeout(
        () => {
          entry.offlineTimer = null;
          void controller.goOffline(id, 'availability').then(() => this.release(id, false));
        },
        Math.max(0, onlineUntil - clock.now()),
        `population:offline:${id}`,
      );
    return id;
  }

  /** The round is over for this client: keep its adapter (when it finished the round), drop the rest. */
  private release(id: ActorId, finished: boolean): void {
    const entry = this.live.get(id);
    if (!entry) return;
    this.live.delete(id);
    if (entry.offlineTimer !== null) this.deps.clock.clearTimeout(entry.offlineTimer);
    if (finished) this.adapters.set(entry.index, entry.model.getAdapter());
    else this.droppedOut.set(entry.round, (this.droppedOut.get(entry.round) ?? 0) + 1);
    this.deps.profiles.forget(entry.index);
    entry.model.dispose();
  }

  /** The end of the run: models of clients still up go. */
  close(): void {
    for (const entry of this.live.values()) entry.model.dispose();
    this.live.clear();
  }

  /** Clients selected for `round` that dropped out of it. */
  dropouts(round: number): number {
    return this.droppedOut.get(round) ?? 0;
  }

  /** The indices of the clients still up. */
  liveIndices(): number[] {
    return [...this.live.values()].map((e) => e.index);
  }

  /** Clients still up (stragglers of the last round), for the run's final states. */
  liveClients(): ActorId[] {
    return [...this.live.keys()];
  }
}

/** Profiles of the server and of a population's clients (a client's drawn from the seed, kept while it is up). */
export class PopulationProfiles implements ProfileSource {
  readonly drawn: ProfileSource['drawn'] = [];
  private readonly kept = new Map<number, Profile>();

  constructor(
    private readonly scenario: Scenario,
    private readonly model: PopulationModel,
  ) {}

  profile(actor: string): Profile {
    if (actor === 'server') return this.scenario.server.profile;
    const index = this.model.indexOf(actor);
    if (index === null) throw new Error(`population: no client ${actor}`);
    return this.kept.get(index) ?? this.model.profileOf(index);
  }

  linkProfile(actor: string): Profile {
    return this.profile(actor);
  }

  keep(index: number, profile: Profile): void {
    this.kept.set(index, profile);
  }

  forget(index: number): void {
    this.kept.delete(index);
  }
}
