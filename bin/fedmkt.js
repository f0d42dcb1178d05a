#!/usr/bin/env node
// Runs the TypeScript CLI in this process through tsx's loader, so that `npx fedmkt` works
// without a build step and a signal sent to `fedmkt` reaches the run itself (no child process).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
