/** The asynchronous machines' state lists, and the invariants their traces must keep. */
import { describe, expect, it } from 'vitest';
import { ASYNC_CLIENT_STATES, ASYNC_CLIENT_TRANSIENT_STATES, ASYNC_SERVER_STATES, ASYNC_SERVER_TRANSIENT_STATES } from '../../core/faults/async-states.js';
import { checkAsyncInvariants } from '../../core/invariants/async.js';
import type { TraceEvent } from '../../core/records.js';
import { asyncClientMachine } from '../../machines/async-client.js';
import { asyncServerMachine } from '../../machines/async-server.js';
import { leaves } from '../machines/leaves.js';

describe('asynchronous machines', () => {
  it('state lists cover each machine exactly', () => {
    expect([...ASYNC_CLIENT_STATES, ...ASYNC_CLIENT_TRANSIENT_STATES].sort()).toEqual(leaves(asyncClientMachine));
    expect([...ASYNC_SERVER_STATES, ...ASYNC_SERVER_TRANSIENT_STATES].sort()).toEqual(leaves(asyncServerMachine));
  });
});

/** A sound two-version trace: c1 and c2 upload against version 0, c1 again against 1 (used for 2 with staleness 0), c2's second one late. */
function trace(): TraceEvent[] {
  let t = 0;
  const ev = (actor: string, kind: string, round: number, more: Record<string, unknown> = {}): TraceEvent => ({ t: t++, actor, round, kind, ...more });
  const upload = (sender: string, id: string, version: number) => [
    ev('server', 'deliver', 0, { id, msgRound: version }),
    ev('server', 'accepted', version + 1, { messageId: id, sender, message: 'slm-logits' }),
  ];
  return [
    ev('server', 'state', 1, { state: 'awaitSLMLogits' }),
    ...upload('c1', 'c1:1', 0),
    ...upload('c2', 'c2:1', 0),
    ev('server', 'used', 1, { messageId: 'c1:1', sender: 'c1', msgRound: 0, staleness: 0 }),
    ev('server', 'used', 1, { messageId: 'c2:1', sender: 'c2', msgRound: 0, staleness: 0 }),
    ev('server', 'send', 1, { type: 'llm-logits', id: 'server:1' }),
    ...upload('c1', 'c1:2', 1),
    ev('server', 'used', 2, { messageId: 'c1:2', sender: 'c1', msgRound: 1, staleness: 0 }),
    ev('server', 'send', 2, { type: 'llm-logits', id: 'server:2' }),
    ...upload('c2', 'c2:2', 0),
    ev('server', 'used', 3, { messageId: 'c2:2', sender: 'c2', msgRound: 0, staleness: 2 }),
    ev('server', 'send', 3, { type: 'llm-logits', id: 'server:3' }),
  ];
}

const check = (events: TraceEvent[], maxStaleness = 2) =>
  checkAsyncInvariants(events, { clients: ['c1', 'c2'], maxStaleness, partial: true }).map((v) => `${v.invariant}: ${v.message}`);

describe('asynchronous invariants', () => {
  it('a sound trace keeps them', () => {
    expect(check(trace())).toEqual([]);
  });
  it('an upload used twice', () => {
    const events = trace();
    events.push({ t: 99, actor: 'server', round: 4, kind: 'used', messageId: 'c1:2', sender: 'c1', msgRound: 1, staleness: 2 });
    expect(check(events)).toEqual(['once: server used upload c1:2 from c1 for version 4, already used for version 2']);
  });
  it('staleness beyond the bound, or not what the versions say', () => {
    expect(check(trace(), 1)).toEqual(['staleness: server used upload c2:2 from c2 2 versions stale, beyond the bound of 1']);
    const events = trace();
    events[events.length - 2] = { ...events[events.length - 2]!, staleness: 1 };
    expect(check(events)).toEqual(['staleness: server recorded staleness 1 for an upload of version 0 used for version 3']);
  });
  it('a version published below the last, and an upload used that was never accepted', () => {
    const events = trace();
    events.push({ t: 99, actor: 'server', round: 2, kind: 'send', type: 'llm-logits', id: 'server:4' });
    events.push({ t: 100, actor: 'server', round: 3, kind: 'used', messageId: 'c9:1', sender: 'c1', msgRound: 2, staleness: 0 });
    expect(check(events)).toEqual([
      'versions: server published LLM version 2 after version 3',
      'kept: server used upload c9:1 from c1, which it never accepted',
    ]);
  });
});

describe('fedmkt diagram draws the asynchronous machines', () => {
  it('by name, with the input a buffered run gives them', async () => {
    const { anyMachine, MACHINE_NAMES } = await import('../../actors/machine-inputs.js');
    const { drawMachine } = await import('../../apps/diagram/index.js');
    expect(MACHINE_NAMES).toEqual(['server', 'client', 'async-server', 'async-client']);
    const server = anyMachine('async-server');
    const mermaid = drawMachine(server.machine, 'mermaid', { input: server.input });
    expect(mermaid).toContain('awaitSLMLogits --> batchTaken : always [bufferFull] / takeBatch');
    const client = anyMachine('async-client');
    expect(drawMachine(client.machine, 'svg', { input: client.input })).toContain('waitForFinish');
  });
});

describe('the live view of a buffered run', () => {
  it('draws the asynchronous machines, mapping every state actors report', async () => {
    const { liveCharts } = await import('../../apps/live/statecharts.js');
    const { loadScenario } = await import('../../core/scenario/load.js');
    const charts = liveCharts(loadScenario('scenarios/explore-async.yaml'));
    for (const s of ASYNC_CLIENT_STATES) expect(charts.client.stateIds[s]).toBeDefined();
    for (const s of ASYNC_SERVER_STATES) expect(charts.server.stateIds[s]).toBeDefined();
    expect(charts.server.svg).toContain('asyncServer machine');
  });
});
