import { PermissionViolationError } from '@nats-io/transport-node';

/** The server refused a publish or subscription under the credential's permissions. */
export class NatsPermissionError extends Error {
  constructor(
    readonly operation: 'publish' | 'subscription',
    readonly subject: string,
    user: string | undefined,
  ) {
    super(`NATS denied ${operation} to "${subject}" for user ${user ?? '(anonymous)'}: not allowed by its permissions`);
    this.name = 'NatsPermissionError';
  }
}

/** The permission violation behind `error` (nats.js wraps a refused request's in a RequestError), if any. */
export function permissionViolation(error: unknown): PermissionViolationError | undefined {
  if (error instanceof PermissionViolationError) return error;
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof PermissionViolationError ? cause : undefined;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
