/**
 * From a scenario to the machines' inputs: the one mapping of scenario policies onto machine
 * policies, used by the actors that run the machines and by the tools that draw them.
 */
import type { AnyStateMachine } from 'xstate';
import { perRoundOf } from '../core/scenario/population-schema.js';
import { ProtocolSchema, lateAcceptWithinRounds, quorumCount, type Scenario } from '../core/scenario/schema.js';
import { clientMachine, type ClientInput } from '../machines/client.js';
import { serverMachine, type ServerInput } from '../machines/server.js';
import { ASYNC_MACHINE_NAMES, asyncMachineByName, asyncMachineInput, type AsyncMachineName } from './async-machine-inputs.js';

export type MachineName = 'server' | 'client';
/** Every machine `fedmkt diagram` draws: the sync round's and the buffered/asynchronous ones (docs/async.md). */
export type AnyMachineName = MachineName | AsyncMachineName;
export const MACHINE_NAMES: readonly AnyMachineName[] = ['server', 'client', ...ASYNC_MACHINE_NAMES];

/** `resumeAfterRound`: the run resumes from the checkpoints of this round (0: a fresh run). */
/** `selectedRound`: a population's client, taking part in that round only. */
export function clientMachineInput(scenario: Scenario, id: string, resumeAfterRound = 0, selectedRound?: number): ClientInput {
  const p = scenario.protocol;
  return {
    id,
    totalRounds: scenario.rounds,
    ...(resumeAfterRound > 0 ? { resumeAfterRound } : {}),
    ...(selectedRound !== undefined ? { selectedRound } : {}),
    policy: {
      llmLogitsDeadlineMs: p.awaitLLMLogits.deadlineMs,
      onMissingLLMLogits: p.awaitLLMLogits.onMissing,
      adapterDeadlineMs: p.awaitSLMLogits.deadlineMs,
      serverSilenceMs: p.serverSilenceMs,
      announcementDeadlineMs: p.awaitSLMLogits.deadlineMs,
      fedAvg: p.fedAvg,
    },
  };
}

export function serverMachineInput(scenario: Scenario, resumeAfterRound = 0): ServerInput {
  const p = scenario.protocol;
  return {
    totalRounds: scenario.rounds,
    ...(resumeAfterRound > 0 ? { resumeAfterRound } : {}),
    clients: scenario.clients.map((c) => c.id),
    ...(scenario.population ? { perRound: perRoundOf(scenario.population, scenario.selection) } : {}),
    policy: {
      uploadDeadlineMs: p.awaitSLMLogits.deadlineMs,
      quorum: quorumCount(scenario),
      onQuorumLost: p.awaitSLMLogits.onQuorumLost,
      adapterDeadlineMs: p.awaitSLMLogits.deadlineMs,
      fedAvg: p.fedAvg,
      llmFrozen: p.llmFrozen,
      lateAcceptWithinRounds: lateAcceptWithinRounds(scenario),
      finishRetryMs: p.finish.retryMs,
      finishAttempts: p.finish.attempts,
    },
  };
}

/** The input a run of `scenario` would give; without one, the schema's defaults and one client. */
export function machineInput(name: MachineName, scenario?: Scenario): ClientInput | ServerInput {
  const s: Scenario = scenario ?? ({ rounds: 1, clients: [{ id: 'client-1' }], protocol: ProtocolSchema.parse({}) } as unknown as Scenario);
  return name === 'client' ? clientMachineInput(s, s.clients[0]?.id ?? 'client-1') : serverMachineInput(s);
}

export function machineByName(name: MachineName): AnyStateMachine {
  return (name === 'server' ? serverMachine : clientMachine) as unknown as AnyStateMachine;
}

/** Any machine by name, with the input a run of `scenario` would give it (what diagrams draw). */
export function anyMachine(name: AnyMachineName, scenario?: Scenario): { machine: AnyStateMachine; input: unknown } {
  if (name === 'server' || name === 'client') return { machine: machineByName(name), input: machineInput(name, scenario) };
  return { machine: asyncMachineByName(name), input: asyncMachineInput(name, scenario) };
}
