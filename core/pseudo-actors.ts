/**
 * Names in a run's records that are not parties of the federation: the network records the
 * partitions it imposes (core/faults/interceptor.ts) under `network`; a process hosting part K of
 * a population over NATS says it is present under `population-part-K` (actors/population-remote.ts).
 */
const NETWORK_ACTOR = 'network';
const POPULATION_PART = 'population-part-';

/** The name a process hosting part `part` of a population goes by in the run's events. */
export function populationPartActor(part: number): string {
  return `${POPULATION_PART}${part}`;
}

export function isPseudoActor(id: string): boolean {
  return id === NETWORK_ACTOR || id.startsWith(POPULATION_PART);
}
