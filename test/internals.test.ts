/**
 * The private internals of dependencies this code relies on, pinned to exact versions in
 * package.json. If an upgrade changes one, this file fails first and says which, before the
 * failures it would cause elsewhere (wrong gradients, lost deadlines after a restart, copied
 * instead of viewed arrays).
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createActor, setup } from 'xstate';
import { initBackend } from '../core/models/backend.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };

describe('dependencies whose internals are used are pinned', () => {
  it.each(['xstate', 'msgpackr', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'])('%s has an exact version', (name) => {
    expect(pkg.dependencies[name], `${name} must be pinned (its private internals are used)`).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('XState internals (core/faults/persistence.ts, controller.ts)', () => {
  const machine = setup({ delays: { soon: 50 } }).createMachine({
    initial: 'waiting',
    states: { waiting: { after: { soon: 'done' } }, done: { type: 'final' } },
  });

  it('snapshots list their active state nodes in `_nodes`, each with its id and its `after` transitions', () => {
    const actor = createActor(machine);
    actor.start();
    const nodes = (actor.getSnapshot() as unknown as { _nodes?: { id: string; after?: { eventType: string; delay: unknown }[] }[] })._nodes;
    expect(Array.isArray(nodes), 'xstate: snapshot._nodes is gone (activeNodeIds, rearmDelays)').toBe(true);
    const waiting = nodes!.find((n) => n.id.endsWith('.waiting'));
    expect(waiting?.after?.[0]?.eventType, 'xstate: state node `after` entries changed (rearmDelays)').toMatch(/^xstate\.after\.soon\./);
    expect(waiting?.after?.[0]?.delay).toBe('soon');
    actor.stop();
  });

  it('an actor system has a scheduler that schedules a delayed event by id', () => {
    const actor = createActor(machine);
    const scheduler = (actor.system as unknown as { scheduler?: { schedule?: unknown; cancel?: unknown } }).scheduler;
    expect(typeof scheduler?.schedule, 'xstate: actor.system.scheduler.schedule is gone (rearmDelays)').toBe('function');
    expect(typeof scheduler?.cancel).toBe('function');
  });
});

describe('TensorFlow.js internals (core/tensor/kernels.ts, core/models/block.ts)', () => {
  it.each(['wasm', 'cpu'] as const)('%s: the engine makes tensors from data ids and tensor infos; the backend counts references', async (name) => {
    await initBackend(name);
    const engine = tf.engine() as unknown as Record<string, unknown>;
    for (const method of ['makeTensorFromDataId', 'makeTensorFromTensorInfo', 'isTapeOn', 'readSync'])
      expect(typeof engine[method], `tfjs engine.${method} is gone`).toBe('function');
    const backend = tf.backend() as unknown as Record<string, unknown>;
    for (const method of ['incRef', 'write', 'disposeData']) expect(typeof backend[method], `tfjs ${name} backend.${method} is gone`).toBe('function');
    if (name === 'wasm') {
      expect(typeof backend.typedArrayFromHeap, 'tfjs wasm backend.typedArrayFromHeap is gone (readView)').toBe('function');
      expect(typeof backend.makeOutput, 'tfjs wasm backend.makeOutput is gone (KernelScope.alloc)').toBe('function');
    } else {
      const t = tf.tensor1d([1, 2, 3]);
      const values = (backend.data as { get(id: object): { values?: unknown } }).get(t.dataId).values;
      expect(values, 'tfjs cpu backend.data.get(id).values is no longer the Float32Array (readView)').toBeInstanceOf(Float32Array);
      t.dispose();
    }
  });
});

describe('msgpackr internals (core/protocol/codec.ts)', () => {
  it('typed arrays are ext 0x74 with a class byte under moreTypes, as the aligned writer writes them', () => {
    const bytes = new Packr({ moreTypes: true }).pack(Float32Array.of(1, 2));
    // fixext/ext8 header, then 0x74 and the Float32Array class code 7
    const at = bytes.indexOf(0x74);
    expect(at, 'msgpackr no longer writes typed arrays as ext 0x74').toBeGreaterThan(0);
    expect(bytes[at + 1], 'msgpackr: the class byte of Float32Array changed').toBe(7);
  });
});
