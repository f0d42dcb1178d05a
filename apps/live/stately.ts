/**
 * Optional bridge to Stately's inspector (`@statelyai/inspect`), for users who have it
 * installed: the package is loaded with a dynamic import and never required. The run's
 * RunEvents are replayed as inspection events: each actor is registered with its machine's
 * definition, every `state` event becomes a snapshot, every delivery an event from its sender.
 * Without a URL it uses `createSkyInspector` (a shareable stately.ai link, needs the network);
 * with a `ws://` URL, `createWebSocketInspector`.
 */
import type { AnyStateMachine } from 'xstate';
import { machineByName } from '../../actors/machine-inputs.js';
import type { LiveEvent } from './snapshot.js';

interface InspectorLike {
  actor(actor: string, snapshot?: unknown, info?: { definition?: string; parentId?: string; rootId?: string }): void;
  snapshot(actor: string, snapshot: unknown, info?: { event?: unknown }): void;
  event(actor: string, event: unknown, info?: { source?: string }): void;
  stop?(): void;
}

export interface StatelyBridge {
  push(event: LiveEvent): void;
  stop(): void;
}

/** `trainPrivate` → `{ round: 'trainPrivate' }`, `fedAvg.awaitAverage` → `{ round: { fedAvg: 'awaitAverage' } }`, `done` → `'done'`. */
export function stateValueOf(machine: AnyStateMachine, name: string): unknown {
  const parts = name.split('.');
  const top = machine.root.states as Record<string, unknown>;
  const path = parts[0] !== undefined && parts[0] in top ? parts : ['round', ...parts];
  let value: unknown = path[path.length - 1];
  for (let i = path.length - 2; i >= 0; i--) value = { [path[i]!]: value };
  return value;
}

/**
 * Connects to Stately's inspector when `@statelyai/inspect` can be imported; otherwise returns
 * null and says why through `log`.
 */
export async function connectStately(options: { url?: string; log?: (line: string) => void } = {}): Promise<StatelyBridge | null> {
  const log = options.log ?? (() => undefined);
  const name = '@statelyai/inspect';
  let mod: Record<string, unknown>;
  try {
    mod = (await import(name)) as Record<string, unknown>;
  } catch {
    log(`--inspect: ${name} is not installed (npm install --no-save ${name}); skipped`);
    return null;
  }
  const create = (options.url ? mod.createWebSocketInspector : mod.createSkyInspector) as ((o?: unknown) => InspectorLike) | undefined;
  if (typeof create !== 'function') {
    log(`--inspect: this version of ${name} has no ${options.url ? 'createWebSocketInspector' : 'createSkyInspector'}; skipped`);
    return null;
  }
  let inspector: InspectorLike;
  try {
    inspector = create(options.url ? { url: options.url } : undefined);
  } catch (error) {
    log(`--inspect: could not start the inspector (${(error as Error).message}); skipped`);
    return null;
  }
  const machines = { server: machineByName('server'), client: machineByName('client') };
  const definitions = {
    server: JSON.stringify((machines.server as unknown as { toJSON(): unknown }).toJSON()),
    client: JSON.stringify((machines.client as unknown as { toJSON(): unknown }).toJSON()),
  };
  const known = new Set<string>();
  const register = (id: string) => {
    if (known.has(id)) return;
    known.add(id);
    const role = id === 'server' ? 'server' : 'client';
    inspector.actor(id, { status: 'active', context: {} }, { definition: definitions[role] });
  };
  return {
    push(event) {
      try {
        if (event.actor === 'network') return;
        if (event.kind === 'state') {
          register(event.actor);
          const role = event.actor === 'server' ? 'server' : 'client';
          const state = String(event.state);
          const status = state === 'done' || state === 'failed' ? 'done' : 'active';
          inspector.snapshot(event.actor, { status, value: stateValueOf(machines[role], state), context: { round: event.round } });
        } else if (event.kind === 'deliver') {
          register(event.actor);
          inspector.event(event.actor, { type: String(event.type), id: event.id, round: event.msgRound }, { source: String(event.from) });
        }
      } catch {
        // The inspector is a convenience: it never stops a run.
      }
    },
    stop() {
      try {
        inspector.stop?.();
      } catch {
        // ignore
      }
    },
  };
}
