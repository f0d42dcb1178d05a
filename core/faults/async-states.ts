/**
 * The state names of the buffered/asynchronous machines (machines/async-server.ts,
 * machines/async-client.ts), as `state` events record them. test/async/machines.test.ts checks
 * them against the definitions. Most are the sync machines' names for the same step.
 */
export const ASYNC_CLIENT_STATES = [
  'evaluateZeroShot',
  'trainPrivate',
  'computePublicLogits',
  'uploadLogits',
  'awaitLLMLogits',
  'alignLLMTokens',
  'distillFromLLM',
  'roundEnd',
  'waitForFinish',
  'done',
  'failed',
] as const;

export const ASYNC_CLIENT_TRANSIENT_STATES = ['nextPass', 'llmLogitsMissing'] as const;

export const ASYNC_SERVER_STATES = [
  'evaluateZeroShot',
  'awaitSLMLogits',
  'alignSLMTokens',
  'distillFromSLMs',
  'computeLLMLogits',
  'broadcastLLMLogits',
  'roundEnd',
  'finishing',
  'awaitFinishAcks',
  'done',
  'failed',
] as const;

export const ASYNC_SERVER_TRANSIENT_STATES = ['batchTaken'] as const;
