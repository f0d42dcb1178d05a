import { describe, expect, it } from 'vitest';
import type { RoundMetrics } from '../../actors/run-recorder.js';
import { roundSummaryTable } from '../../cli/summary.js';

const row = (round: number, actor: string, bytesUp: number, bytesDown: number): RoundMetrics => ({
  round,
  actor,
  role: actor === 'server' ? 'server' : 'client',
  accuracy: 0.5,
  accuracyNorm: 0.5,
  publicCE: null,
  trainLoss: null,
  distillLoss: null,
  bytesUp,
  bytesDown,
  virtualSeconds: 1,
});

describe('the per-round summary table', () => {
  it("counts bytes as the clients do, and from the server's side in a server-only process", () => {
    const whole = roundSummaryTable([row(1, 'server', 3000, 9000), row(1, 'c1', 4500, 1000), row(1, 'c2', 4500, 1000)]);
    expect(whole.split('\n')[2]).toMatch(/8\.8 KiB\s+2\.0 KiB\s+1\.0$/);
    const serverOnly = roundSummaryTable([row(1, 'server', 3000, 9000)]);
    expect(serverOnly.split('\n')[2]).toMatch(/8\.8 KiB\s+2\.9 KiB\s+1\.0$/);
  });
});
