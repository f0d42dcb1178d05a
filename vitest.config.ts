import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One line per suite skipped for want of nats-server, Chromium or the shared datasets.
    globalSetup: ['test/global-setup.ts'],
  },
});
