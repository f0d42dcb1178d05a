/**
 * A population of clients, nothing stored per client: client i's id, template, profile and
 * availability are pure functions of the seed and i, computed when i is selected. What a client
 * keeps between the rounds it takes part in (its adapter) lives with the run, not here.
 */
import { Random } from '../random.js';
import type { ClientConfig, Profile, Scenario } from '../scenario/schema.js';
import { announcedPerRound, isResident, perRoundOf, type Drawn, type Population, type Selection } from '../scenario/population-schema.js';
import { availabilityOf, type Availability } from './availability.js';
import { readCapacityTrace, type CapacityTable } from './traces.js';

export class PopulationModel {
  readonly count: number;
  /** Uploads the server waits for per round. */
  readonly perRound: number;
  /** Clients announced per round (over-committed). */
  readonly announced: number;
  readonly availability: Availability;
  private readonly capacity: CapacityTable | null;
  private readonly cumulative: number[];
  private readonly idPattern: RegExp;

  constructor(
    readonly population: Population,
    readonly selection: Selection | undefined,
    readonly seed: number,
  ) {
    this.count = population.count;
    this.perRound = perRoundOf(population, selection);
    this.announced = announcedPerRound(population, selection);
    this.availability = availabilityOf(population.availability, seed);
    this.capacity = population.capacity ? readCapacityTrace(population.capacity.trace) : null;
    const total = population.clients.reduce((a, t) => a + t.weight, 0);
    let acc = 0;
    this.cumulative = population.clients.map((t) => (acc += t.weight / total));
    this.idPattern = new RegExp(`^${population.idPrefix}(0|[1-9][0-9]*)$`);
  }

  static of(scenario: Scenario): PopulationModel {
    if (!scenario.population) throw new Error('population: the scenario lists its clients');
    return new PopulationModel(scenario.population, scenario.selection, scenario.seed);
  }

  idOf(index: number): string {
    return `${this.population.idPrefix}${index}`;
  }

  /** The index of a client id of this population (null: none of its clients). */
  indexOf(id: string): number | null {
    const m = this.idPattern.exec(id);
    if (!m) return null;
    const index = Number(m[1]);
    return index < this.count ? index : null;
  }

  /** Which template client `index` draws. */
  templateOf(index: number): number {
    const u = Random.stream(this.seed, `population/template/${index}`).next();
    const t = this.cumulative.findIndex((c) => u < c);
    return t < 0 ? this.cumulative.length - 1 : t;
  }

  /** Client `index` as a listed client would be (its shard is its index). */
  configOf(index: number): ClientConfig {
    const template = this.population.clients[this.templateOf(index)]!;
    return {
      id: this.idOf(index),
      model: template.model,
      tokenizer: template.tokenizer,
      ...(template.pretrain ? { pretrain: template.pretrain } : {}),
      training: template.training,
      profile: this.profileOf(index),
    };
  }

  /** Its profile: the template's figures drawn for this client, or the capacity trace's. */
  profileOf(index: number): Profile {
    const p = this.population.clients[this.templateOf(index)]!.profile;
    const draw = (field: string, figure: Drawn) => drawFigure(figure, this.seed, `population/profile/${field}/${index}`);
    const profile: Profile = {
      msPerTrainSample: draw('train', p.msPerTrainSample),
      msPerAlignSample: draw('align', p.msPerAlignSample),
      bandwidthMbps: Math.max(1e-3, draw('bandwidth', p.bandwidthMbps)),
      latencyMs: draw('latency', p.latencyMs),
    };
    const cap = this.capacity;
    if (!cap) return profile;
    // FedScale charges 3 x computation ms per trained sample; communication is in kbit/s.
    const d = index % cap.ids.length;
    return { ...profile, msPerTrainSample: 3 * cap.computation[d]!, bandwidthMbps: cap.communication[d]! / 1000 };
  }

  /** Every client takes part in every round: run as the equivalent list. */
  get resident(): boolean {
    return isResident(this.population, this.selection);
  }
}

function drawFigure(figure: Drawn, seed: number, stream: string): number {
  if (typeof figure === 'number') return figure;
  const rng = Random.stream(seed, stream);
  if ('lognormal' in figure) return figure.lognormal.median * Math.exp(figure.lognormal.sigma * rng.normal());
  return figure.pareto.scale / (1 - rng.next()) ** (1 / figure.pareto.alpha);
}

/**
 * A population every member of which takes part in every round, as the scenario listing its
 * clients: the same ids, models, profiles and shards, hence the same run.
 */
export function residentScenario(scenario: Scenario): Scenario {
  const { population, selection, ...rest } = scenario;
  if (!population || !isResident(population, selection)) return scenario;
  const model = PopulationModel.of(scenario);
  const clients = Array.from({ length: population.count }, (_, i) => model.configOf(i));
  const { data } = population;
  return { ...rest, clients, task: { ...rest.task, split: data.split, dirichletAlpha: data.alpha, otherDomainShare: data.otherDomainShare } };
}
