/** Tiny networks with every weight random (gains and LoRA B included), for exact checks. */
import { resolveConfig, type TransformerConfig } from '../../core/models/config.js';
import { ARCHITECTURES, TransformerNetwork, type WeightRecord } from '../../core/models/network.js';
import type { ModelSpec } from '../../core/models/spec.js';
import { Random } from '../../core/random.js';

function tinyConfig(arch: ModelSpec['arch'], vocabSize = 11): TransformerConfig {
  return resolveConfig(
    {
      arch,
      layers: 2,
      heads: 2,
      dModel: 8,
      dFF: 12,
      maxSeqLen: 8,
      lora: { rank: 2, alpha: 4, dropout: 0.1, targets: ['q', 'k', 'v', 'o', 'mlp'] },
    },
    vocabSize,
  );
}

export function randomWeights(config: TransformerConfig, seed: number): { base: WeightRecord; adapter: WeightRecord } {
  const rng = new Random(seed);
  const base: WeightRecord = {};
  for (const [name, p] of Object.entries(ARCHITECTURES[config.arch].params(config))) {
    const values = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = (p.init === 'ones' ? 1 : 0) + 0.4 * rng.normal();
    base[name] = { shape: p.shape, values };
  }
  const adapter = TransformerNetwork.freshAdapter(config, seed);
  for (const w of Object.values(adapter)) for (let i = 0; i < w.values.length; i++) w.values[i] = 0.4 * rng.normal();
  return { base, adapter };
}

export function tinyNetwork(arch: ModelSpec['arch'], seed = 3): TransformerNetwork {
  const config = tinyConfig(arch);
  const { base, adapter } = randomWeights(config, seed);
  return TransformerNetwork.fromWeights(config, base, adapter);
}
