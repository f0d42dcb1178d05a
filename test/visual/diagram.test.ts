import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { machineByName, machineInput } from '../../actors/machine-inputs.js';
import { registerDiagramCommand } from '../../cli/commands/diagram.js';
import { clientMachine } from '../../machines/client.js';
import { FAILURE_MARK, machineGraph, toJson, toMermaid, toSvg, type MachineGraph } from '../../apps/diagram/index.js';
import { outline } from '../../machines/introspect.js';
import { serverMachine } from '../../machines/server.js';
import { checkXml } from './xml.js';

const machines = [
  ['client', clientMachine as unknown as AnyStateMachine],
  ['server', serverMachine as unknown as AnyStateMachine],
] as const;

const key = (id: string) => id.slice(id.lastIndexOf('.') + 1);

describe.each(machines)('%s machine diagram', (name, machine) => {
  const o = outline(machine);
  const graph: MachineGraph = machineGraph(machine, { input: machineInput(name) });
  const mermaid = toMermaid(graph);
  const mermaidLines = mermaid.split('\n');
  const json = JSON.parse(toJson(graph)) as MachineGraph;
  const svg = toSvg(graph);

  it('mermaid is a stateDiagram-v2 naming every state of the outline', () => {
    expect(mermaidLines[0]).toBe('stateDiagram-v2');
    for (const id of o.states.slice(1)) {
      // Every state is declared (`state X`, `state "X" as Y`, `state X {`).
      expect(mermaid, id).toMatch(new RegExp(`^\\s*state (?:"${key(id)}" as \\w+|${key(id)}(?: \\{)?)$`, 'm'));
    }
    for (const id of o.finals) if (id.split('.').length > 1) expect(mermaid).toMatch(new RegExp(`^\\s*\\w*${key(id)} --> \\[\\*\\]$`, 'm'));
    for (const inv of o.invokes) expect(mermaid).toContain(`: invoke ${inv}`);
  });

  it('mermaid marks every failure edge, and only those', () => {
    const transitions = mermaidLines.filter((l) => /-->/.test(l) && !l.includes('[*]'));
    const withTarget = graph.edges.filter((e) => e.to !== null);
    expect(transitions).toHaveLength(withTarget.length);
    const marked = transitions.filter((l) => l.includes(`: ${FAILURE_MARK} `));
    expect(marked).toHaveLength(withTarget.filter((e) => e.failure).length);
    // Each invoked piece of work that can fail has a marked `error` edge to `failed`.
    const errors = marked.filter((l) => / --> failed : ⚠ error/.test(l));
    expect(errors.length).toBeGreaterThanOrEqual(o.invokes.length);
    // Deadlines are marked with their delay and the ms the input gives.
    for (const e of o.delayedEvents) {
      const delay = e.split('.')[2]!;
      expect(
        marked.some((l) => l.includes(`after ${delay} (`)),
        delay,
      ).toBe(true);
    }
    expect(mermaid).toMatch(/^\s*class .*failed.* failure$/m);
  });

  it('JSON has every state, invoke and final, and an edge for every `after` delay', () => {
    expect(json.nodes.map((n) => n.id)).toEqual(o.states);
    expect(json.nodes.filter((n) => n.type === 'final').map((n) => n.id)).toEqual(o.finals);
    expect([...new Set(json.nodes.flatMap((n) => n.invokes.map((i) => i.id)))].sort()).toEqual([...o.invokes].sort());
    for (const event of o.delayedEvents) {
      const edges = json.edges.filter((e) => e.event === event);
      expect(edges.length, event).toBeGreaterThan(0);
      for (const e of edges) {
        expect(e.kind).toBe('after');
        expect(e.delay).toBe(event.split('.')[2]);
        expect(e.delayMs).toBeGreaterThan(0);
        expect(e.failureReasons).toContain('deadline');
      }
    }
    for (const e of json.edges) {
      if (e.event.startsWith('xstate.error.actor.')) expect(e.failure && e.failureReasons.includes('error')).toBe(true);
      if (e.to && /\.(failed|aborting)$/.test(e.to)) expect(e.failureReasons).toContain('failure-target');
      if (e.to) expect(o.states).toContain(e.to);
    }
    expect(json.edges.filter((e) => e.kind === 'always').length).toBeGreaterThan(0);
    expect(json.edges.filter((e) => e.guard !== null).map((e) => e.guard)).toContain(name === 'server' ? 'quorumMet' : 'newerRoundAnnounced');
  });

  it('SVG is well-formed, self-contained, and draws every state and failure edge', () => {
    const check = checkXml(svg);
    expect(check.problems).toEqual([]);
    expect(check.root).toBe('svg');
    expect(svg).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
    expect(svg).not.toMatch(/@import|url\(\s*['"]?https?:/);
    for (const id of o.states) expect(svg).toContain(`data-id="${id}"`);
    const red = (svg.match(/<path d="[^"]*" fill="none" stroke="#c62828"/g) ?? []).length;
    expect(red).toBe(graph.edges.filter((e) => e.to !== null && e.failure).length);
    expect(check.elements.get('text')).toBeGreaterThan(o.states.length);
  });
});

describe('delays', () => {
  it('are resolved in ms from the input, and left null without one', () => {
    const withInput = machineGraph(serverMachine as unknown as AnyStateMachine, {
      input: {
        totalRounds: 2,
        clients: ['a'],
        policy: { uploadDeadlineMs: 1234, quorum: 1, onQuorumLost: 'abort', adapterDeadlineMs: 99, fedAvg: true, llmFrozen: false },
      },
    });
    expect(withInput.edges.filter((e) => e.delay === 'uploadDeadline').map((e) => e.delayMs)).toEqual([1234, 1234, 1234]);
    expect(withInput.edges.find((e) => e.delay === 'adapterDeadline')?.delayMs).toBe(99);
    const without = machineGraph(serverMachine as unknown as AnyStateMachine);
    expect(without.edges.filter((e) => e.kind === 'after').every((e) => e.delayMs === null)).toBe(true);
  });
});

describe('fedmkt diagram', () => {
  afterEach(() => vi.restoreAllMocks());
  const run = async (...args: string[]) => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const program = new Command('fedmkt').exitOverride();
    registerDiagramCommand(program);
    await program.parseAsync(['diagram', ...args], { from: 'user' });
    return out.join('');
  };

  it('prints each format to stdout', async () => {
    expect(await run('--machine', 'server')).toMatch(/^stateDiagram-v2\n/);
    expect(JSON.parse(await run('--machine', 'client', '--format', 'json')).machine).toBe('client');
    expect(checkXml(await run('--machine', 'client', '--format', 'svg')).problems).toEqual([]);
  });

  it('writes --out and rejects an unknown machine', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fedmkt-diagram-')), 'server.svg');
    expect(await run('--machine', 'server', '--format', 'svg', '--out', file)).toBe('');
    expect(readFileSync(file, 'utf8')).toContain('<svg');
    await expect(run('--machine', 'nope')).rejects.toThrow(/Allowed choices/);
    expect(machineByName('client').id).toBe('client');
  });
});
