// PLACEHOLDER until the JetStream work queue lands (same session); never committed as is.
import type { Property } from '../core/explore/properties.js';
import type { FaultKind } from '../core/schedule/fault-space.js';
import type { SchedulePool } from './explore.js';
export async function natsPool(_url: string, _spec: { file: string; kinds: FaultKind[] | null; properties: string[]; log: (line: string) => void }): Promise<SchedulePool> {
  throw new Error('not yet');
}
export async function joinExploration(_url: string, _o: { log: (line: string) => void }): Promise<void> {
  throw new Error('not yet');
}
export type _P = Property;
