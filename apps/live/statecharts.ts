/**
 * What the live page draws the actors on: the server and client machine definitions as SVG
 * (apps/diagram), with the map from the state names actors report (`trainPrivate`,
 * `fedAvg.awaitAverage`, `done`: the leaf without the `round.` wrapper, as
 * actors/state-tracker.ts names them) to the diagram's node ids (`data-id` of each state's `<g>`).
 */
import { anyMachine, type MachineName } from '../../actors/machine-inputs.js';
import { machineGraph, toSvg, type MachineGraph } from '../diagram/index.js';
import { quorumCount, type Scenario } from '../../core/scenario/schema.js';
import type { LiveStateOptions } from './live-state.js';
import type { LiveChartDrawing } from './snapshot.js';

interface LiveChart extends LiveChartDrawing {
  machine: MachineName;
}

export type LiveCharts = Record<MachineName, LiveChart>;

/** The name actors/state-tracker.ts reports for a node: its path below the root, without `round.`. */
export function reportedName(graph: MachineGraph, id: string): string {
  const rest = id.startsWith(`${graph.root}.`) ? id.slice(graph.root.length + 1) : id;
  return rest.startsWith('round.') && rest.length > 'round.'.length ? rest.slice('round.'.length) : rest;
}

function liveChart(name: MachineName, scenario?: Scenario): LiveChart {
  // Buffered and asynchronous runs are drawn on their own machines (docs/async.md).
  const { machine, input } = anyMachine(scenario && scenario.protocol.mode !== 'sync' ? `async-${name}` : name, scenario);
  const graph = machineGraph(machine, { input });
  const stateIds: Record<string, string> = {};
  const ancestors: Record<string, string[]> = {};
  const parent = new Map(graph.nodes.map((n) => [n.id, n.parent]));
  for (const n of graph.nodes) {
    if (n.parent === null) continue;
    stateIds[reportedName(graph, n.id)] = n.id;
    const up: string[] = [];
    for (let p: string | null = n.parent; p !== null && p !== graph.root; p = parent.get(p) ?? null) up.push(p);
    ancestors[n.id] = up;
  }
  const svg = toSvg(graph)
    .replace(/^<\?xml[^>]*>\s*/, '')
    .replace(/id="arrow/g, `id="${name}-arrow`)
    .replace(/url\(#arrow/g, `url(#${name}-arrow`);
  return { machine: name, svg, stateIds, ancestors };
}

export function liveCharts(scenario?: Scenario): LiveCharts {
  return { server: liveChart('server', scenario), client: liveChart('client', scenario) };
}

/** Live view options a scenario implies: its actors, quorum and the deadlines of its waiting states. */
export function liveOptionsFromScenario(scenario: Scenario): LiveStateOptions {
  const p = scenario.protocol;
  return {
    title: scenario.name,
    actors: [{ id: 'server', role: 'server' }, ...scenario.clients.map((c) => ({ id: c.id, role: 'client' as const }))],
    quorum: quorumCount(scenario),
    deadlines: {
      server: { awaitSLMLogits: p.awaitSLMLogits.deadlineMs, 'fedAvg.awaitAdapters': p.awaitSLMLogits.deadlineMs },
      client: { awaitLLMLogits: p.awaitLLMLogits.deadlineMs, 'fedAvg.awaitAverage': p.awaitSLMLogits.deadlineMs },
    },
  };
}
