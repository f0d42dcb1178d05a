#!/usr/bin/env -S node --max-semi-space-size=32
// Runs the TypeScript CLI in this process through tsx's loader, so that `npx fedmkt` works
// without a build step and a signal sent to `fedmkt` reaches the run itself (no child process).
// A larger young generation than V8's default (16 MiB semi-spaces): a run's XState actors make
// many objects that outlive one scavenge but not a round, and copying them dominated garbage
// collection; a 100,000-client population runs 11 to 17% faster with it at the same peak
// memory (docs/populations.md). bench/population.bench.ts runs with the flags of this line.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
