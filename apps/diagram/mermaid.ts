/** A machine graph as Mermaid `stateDiagram-v2` text. */
import { childrenOf, edgeLabel, lowestCommonCompound, type DiagramEdge, type DiagramNode, type MachineGraph } from './graph.js';

/** Prefix of failure edge labels in the Mermaid text. */
export const FAILURE_MARK = '⚠';

const MERMAID_RESERVED = new Set(['state', 'note', 'end', 'direction', 'class', 'classDef', 'click', 'style', 'as', 'left', 'right', 'of']);

/** Mermaid identifiers: state keys where unique within the machine, else the sanitised path. */
function mermaidIds(graph: MachineGraph): Map<string, string> {
  const counts = new Map<string, number>();
  for (const n of graph.nodes) counts.set(n.key, (counts.get(n.key) ?? 0) + 1);
  const ids = new Map<string, string>();
  for (const n of graph.nodes) {
    let id = (counts.get(n.key) === 1 ? n.key : n.id.slice(graph.root.length + 1)).replace(/[^A-Za-z0-9_]/g, '_');
    if (MERMAID_RESERVED.has(id) || /^\d/.test(id)) id = `s_${id}`;
    ids.set(n.id, id);
  }
  return ids;
}

function mermaidText(text: string): string {
  // Mermaid reads `:`, `;` and `#` specially in labels.
  return text.replace(/[:;#]/g, ' ').replace(/\s+/g, ' ').trim();
}

export function toMermaid(graph: MachineGraph): string {
  const ids = mermaidIds(graph);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const children = childrenOf(graph);
  const edgesAt = new Map<string, DiagramEdge[]>();
  const internal: DiagramEdge[] = [];
  for (const e of graph.edges) {
    if (e.to === null) {
      internal.push(e);
      continue;
    }
    const lca = lowestCommonCompound(byId, e.from, e.to);
    const list = edgesAt.get(lca) ?? [];
    list.push(e);
    edgesAt.set(lca, list);
  }
  const lines: string[] = ['stateDiagram-v2', `  %% machine: ${graph.machine} (generated from the machine definition)`];
  const emitBlock = (compound: DiagramNode, indent: string) => {
    if (compound.initial) lines.push(`${indent}[*] --> ${ids.get(compound.initial)}`);
    for (const child of children.get(compound.id) ?? []) {
      const id = ids.get(child.id)!;
      if (id !== child.key) lines.push(`${indent}state "${child.key}" as ${id}`);
      if (child.type === 'compound' || child.type === 'parallel') {
        lines.push(`${indent}state ${id} {`);
        emitBlock(child, `${indent}  `);
        lines.push(`${indent}}`);
      } else if (id === child.key) {
        lines.push(`${indent}state ${id}`);
      }
      for (const inv of child.invokes) lines.push(`${indent}${id} : invoke ${mermaidText(inv.src)}`);
    }
    for (const e of edgesAt.get(compound.id) ?? []) {
      const label = mermaidText(edgeLabel(e));
      lines.push(`${indent}${ids.get(e.from)} --> ${ids.get(e.to!)} : ${e.failure ? `${FAILURE_MARK} ` : ''}${label}`);
    }
    for (const child of children.get(compound.id) ?? []) if (child.type === 'final') lines.push(`${indent}${ids.get(child.id)} --> [*]`);
  };
  const root = byId.get(graph.root)!;
  emitBlock(root, '  ');
  for (const e of internal) {
    lines.push(`  %% internal (state is not left): ${ids.get(e.from) ?? e.from} on ${mermaidText(edgeLabel(e))}`);
  }
  const failures = graph.nodes.filter((n) => n.failure).map((n) => ids.get(n.id));
  lines.push('  classDef failure fill:#fde2e2,stroke:#c62828,color:#8e0000');
  if (failures.length) lines.push(`  class ${failures.join(',')} failure`);
  return `${lines.join('\n')}\n`;
}
