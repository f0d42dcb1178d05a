import { describe, expect, it } from 'vitest';
import type { RoundMetrics } from '../../core/records.js';
import { progressReporter } from '../../cli/progress.js';
import { roundSummaryTable } from '../../cli/summary.js';
import { VIRTUAL_CLOCK } from '../../core/run-clock.js';

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

describe('the clock a run is on', () => {
  it('labels the table with it', () => {
    expect(roundSummaryTable([row(1, 'server', 0, 0)]).split('\n')[0]).toMatch(/virtual s$/);
    expect(roundSummaryTable([row(1, 'server', 0, 0)], 'wall').split('\n')[0]).toMatch(/wall-clock s$/);
  });

  it('shows progress over NATS in seconds since the start, not since 1970', () => {
    const written: string[] = [];
    const stream = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const origin = Date.UTC(2026, 0, 1);
    const report = progressReporter(['server'], { kind: 'wall', origin }, stream);
    report({ t: origin + 12_340, actor: 'server', round: 1, kind: 'state', state: 'roundEnd' });
    const local = progressReporter(['server'], VIRTUAL_CLOCK, stream);
    local({ t: 30_600, actor: 'server', round: 2, kind: 'state', state: 'roundEnd' });
    expect(written).toEqual(['[fedmkt] server finished round 1 at t=12.3 s wall-clock\n', '[fedmkt] server finished round 2 at t=30.6 s virtual\n']);
  });
});
