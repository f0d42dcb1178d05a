/**
 * Draws a machine DEFINITION (not a run): three renderings of one {@link MachineGraph}
 * (diagram-graph.ts reads it from `machine.root`): Mermaid `stateDiagram-v2` text
 * (diagram-mermaid.ts), JSON, and a self-contained SVG (diagram-svg.ts on the layered layout of
 * diagram-layout.ts: compound states as boxes around their children, failure transitions in red).
 */
import type { AnyStateMachine } from 'xstate';
import { machineGraph, type DiagramOptions, type MachineGraph } from './diagram-graph.js';
import { toMermaid } from './diagram-mermaid.js';
import { toSvg } from './diagram-svg.js';

export {
  edgeLabel,
  FAILURE_STATE_KEYS,
  formatMs,
  machineGraph,
  type DiagramEdge,
  type DiagramNode,
  type DiagramOptions,
  type EdgeKind,
  type FailureReason,
  type MachineGraph,
  type NodeType,
} from './diagram-graph.js';
export { FAILURE_MARK, toMermaid } from './diagram-mermaid.js';
export { toSvg } from './diagram-svg.js';

export type DiagramFormat = 'mermaid' | 'svg' | 'json';

export function toJson(graph: MachineGraph): string {
  return JSON.stringify(graph, null, 2) + '\n';
}

export function drawMachine(machine: AnyStateMachine, format: DiagramFormat, options: DiagramOptions = {}): string {
  const graph = machineGraph(machine, options);
  if (format === 'mermaid') return toMermaid(graph);
  if (format === 'json') return toJson(graph);
  return toSvg(graph);
}
