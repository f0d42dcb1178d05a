import type { AdapterWeights } from '../models/model.js';

/** FedAvg of LoRA adapters: the weighted mean of each tensor (plain mean for equal weights). */
export function averageAdapters(adapters: readonly { weights: AdapterWeights; weight: number }[]): AdapterWeights {
  const first = adapters[0];
  if (!first) throw new Error('averageAdapters: no adapters to average');
  const total = adapters.reduce((s, a) => s + a.weight, 0);
  if (!(total > 0)) throw new Error(`averageAdapters: total weight must be positive, got ${total}`);
  const out: AdapterWeights = {};
  for (const [name, { shape, values }] of Object.entries(first.weights)) {
    const sum = new Float64Array(values.length);
    for (const [i, a] of adapters.entries()) {
      const t = a.weights[name];
      if (!t) throw new Error(`averageAdapters: adapter ${i} lacks tensor "${name}"`);
      if (t.values.length !== values.length)
        throw new Error(`averageAdapters: tensor "${name}" of adapter ${i} has ${t.values.length} values, expected ${values.length}`);
      const w = a.weight / total;
      for (let j = 0; j < sum.length; j++) sum[j]! += w * t.values[j]!;
    }
    out[name] = { shape: shape.slice(), values: Float32Array.from(sum) };
  }
  return out;
}
