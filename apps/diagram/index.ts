/**
 * Draws a machine DEFINITION (not a run): three renderings of one {@link MachineGraph}
 * (graph.ts reads it from `machine.root`): Mermaid `stateDiagram-v2` text
 * (mermaid.ts), JSON, and a self-contained SVG (svg.ts on the layered layout of
 * layout.ts: compound states as boxes around their children, failure transitions in red).
 */
import type { AnyStateMachine } from 'xstate';
import { machineGraph, type DiagramOptions, type MachineGraph } from './graph.js';
import { toMermaid } from './mermaid.js';
import { toSvg } from './svg.js';

export { edgeLabel, machineGraph, type DiagramOptions, type MachineGraph } from './graph.js';
export { FAILURE_MARK, toMermaid } from './mermaid.js';
export { toSvg } from './svg.js';

export type DiagramFormat = 'mermaid' | 'svg' | 'json';

export function toJson(graph: MachineGraph): string {
  return `${JSON.stringify(graph, null, 2)}\n`;
}

export function drawMachine(machine: AnyStateMachine, format: DiagramFormat, options: DiagramOptions = {}): string {
  const graph = machineGraph(machine, options);
  if (format === 'mermaid') return toMermaid(graph);
  if (format === 'json') return toJson(graph);
  return toSvg(graph);
}
