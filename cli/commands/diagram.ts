/**
 * `fedmkt diagram --machine server|client --format mermaid|svg|json [--scenario FILE] [--out FILE]`:
 * draws a machine definition. Delays are shown in ms as the scenario sets them (the schema's
 * defaults without --scenario).
 */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { AnyStateMachine } from 'xstate';
import type { ClientInput } from '../../machines/client.js';
import { clientMachine } from '../../machines/client.js';
import { drawMachine, type DiagramFormat } from '../../machines/diagram.js';
import type { ServerInput } from '../../machines/server.js';
import { serverMachine } from '../../machines/server.js';
import { loadScenario } from '../../core/scenario/load.js';
import { ProtocolSchema, quorumCount, type Scenario } from '../../core/scenario/schema.js';

export type MachineName = 'server' | 'client';

/** The machine input a run would give, from a scenario's protocol section (as the actors map it). */
export function machineInput(name: MachineName, scenario?: Scenario): ClientInput | ServerInput {
  const protocol = scenario?.protocol ?? ProtocolSchema.parse({});
  const clients = scenario?.clients.map((c) => c.id) ?? ['client-1'];
  const totalRounds = scenario?.rounds ?? 1;
  if (name === 'client') {
    return {
      id: clients[0] ?? 'client-1',
      totalRounds,
      policy: {
        llmLogitsDeadlineMs: protocol.awaitLLMLogits.deadlineMs,
        onMissingLLMLogits: protocol.awaitLLMLogits.onMissing,
        adapterDeadlineMs: protocol.awaitSLMLogits.deadlineMs,
        serverSilenceMs: protocol.serverSilenceMs,
        fedAvg: protocol.fedAvg,
      },
    };
  }
  return {
    totalRounds,
    clients,
    policy: {
      uploadDeadlineMs: protocol.awaitSLMLogits.deadlineMs,
      quorum: scenario ? quorumCount(scenario) : 1,
      onQuorumLost: protocol.awaitSLMLogits.onQuorumLost,
      adapterDeadlineMs: protocol.awaitSLMLogits.deadlineMs,
      fedAvg: protocol.fedAvg,
      llmFrozen: protocol.llmFrozen,
    },
  };
}

export function machineByName(name: MachineName): AnyStateMachine {
  return (name === 'server' ? serverMachine : clientMachine) as unknown as AnyStateMachine;
}

export function registerDiagramCommand(program: Command): void {
  program
    .command('diagram')
    .description('draw the client or server state machine from its definition (states, transitions, guards, deadlines, failure paths)')
    .addOption(new Option('--machine <name>', 'which machine').choices(['server', 'client']).makeOptionMandatory())
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'svg', 'json']).default('mermaid'))
    .option('--scenario <file>', 'resolve deadline delays in ms from this scenario (default: the schema defaults)')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((opts: { machine: MachineName; format: DiagramFormat; scenario?: string; out?: string }, command: Command) => {
      let scenario: Scenario | undefined;
      try {
        scenario = opts.scenario ? loadScenario(opts.scenario) : undefined;
      } catch (error) {
        command.error(`error: ${(error as Error).message}`, { exitCode: 1 });
      }
      const text = drawMachine(machineByName(opts.machine), opts.format, { input: machineInput(opts.machine, scenario) });
      if (opts.out) {
        writeFileSync(opts.out, text);
        process.stderr.write(`wrote ${opts.out}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
