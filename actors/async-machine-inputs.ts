/** The buffered/asynchronous machines by name and their inputs, for the tools that draw machines. */
import type { AnyStateMachine } from 'xstate';
import { ProtocolSchema, type Scenario } from '../core/scenario/schema.js';
import { asyncClientMachine } from '../machines/async-client.js';
import { asyncServerMachine } from '../machines/async-server.js';
import { asyncClientMachineInput } from './async-client-actor.js';
import { asyncServerMachineInput } from './async-server-actor.js';

export type AsyncMachineName = 'async-server' | 'async-client';
export const ASYNC_MACHINE_NAMES: readonly AsyncMachineName[] = ['async-server', 'async-client'];

export function asyncMachineByName(name: AsyncMachineName): AnyStateMachine {
  return (name === 'async-server' ? asyncServerMachine : asyncClientMachine) as unknown as AnyStateMachine;
}

/** The input a buffered run of `scenario` would give; without one, the schema's defaults and one client. */
export function asyncMachineInput(name: AsyncMachineName, scenario?: Scenario): unknown {
  const s: Scenario =
    scenario ??
    ({ rounds: 1, clients: [{ id: 'client-1' }], protocol: ProtocolSchema.parse({ mode: 'buffered', timeBudgetMs: 3_600_000 }) } as unknown as Scenario);
  return name === 'async-server' ? asyncServerMachineInput(s) : asyncClientMachineInput(s, s.clients[0]?.id ?? 'client-1');
}
