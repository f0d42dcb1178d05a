/**
 * Names in a run's records that are not parties of the federation: the network records the
 * partitions it imposes (core/faults/interceptor.ts) under `network`.
 */
const NETWORK_ACTOR = 'network';

export function isPseudoActor(id: string): boolean {
  return id === NETWORK_ACTOR;
}
