/**
 * The learning stack of `model: null` scenarios: real tokenizers (for the shapes of the public
 * logits), protocol-only models and alignment, and nothing of TensorFlow.js, so a process that
 * only explores the protocol starts in a fraction of a second.
 */
import { ProtocolOnlyAlignment, ProtocolOnlyModel } from '../core/models/protocol-only.js';
import { loadTokenizer } from '../core/tokenizers/registry.js';
import type { LearningStack } from './federation.js';

export function protocolOnlyLearningStack(): LearningStack {
  return {
    tokenizer: (name) => loadTokenizer(name),
    createModel: async (party, tokenizer, _data, seed) => {
      if (party.model !== null)
        throw new Error(
          `the protocol-only stack runs model: null parties only; ${'id' in party ? party.id : 'server'} has model ${JSON.stringify(party.model)}`,
        );
      return new ProtocolOnlyModel(tokenizer, seed);
    },
    aligner: () => new ProtocolOnlyAlignment(),
    restoreModel: (dir, tokenizer) => ProtocolOnlyModel.load(dir, tokenizer),
  };
}
