import { assign, type EventObject } from 'xstate';

/** A machine context that can say why the actor failed. */
export interface Failable {
  failure: string | null;
}

/** The `onError` action of an invoked step: record `<step>: <error>` as the failure. */
export function failWith<TContext extends Failable, TEvent extends EventObject>(step: string) {
  return assign<TContext, { type: string; error?: unknown }, undefined, TEvent, never>(
    ({ event }) => ({ failure: `${step}: ${String(event.error)}` }) as Partial<TContext>,
  );
}
