/** The state names faults and invariants use are exactly the machines' leaves. */
import { describe, expect, it } from 'vitest';
import { CLIENT_STATES, CLIENT_TRANSIENT_STATES, SERVER_STATES, SERVER_TRANSIENT_STATES } from '../../core/faults/states.js';
import { clientMachine } from '../../machines/client.js';
import { serverMachine } from '../../machines/server.js';
import { leaves } from '../machines/leaves.js';

describe('state names', () => {
  it('client: resting and transient states cover the machine exactly', () => {
    expect([...CLIENT_STATES, ...CLIENT_TRANSIENT_STATES].sort()).toEqual(leaves(clientMachine));
  });
  it('server: resting and transient states cover the machine exactly', () => {
    expect([...SERVER_STATES, ...SERVER_TRANSIENT_STATES].sort()).toEqual(leaves(serverMachine));
  });
});
