import { CanceledError, NotFoundError, type ErrorContext, type NixlError } from './errors.js';

/**
 * The error of a wait for a peer that its signal ended: NotFoundError if the
 * reason is a TimeoutError (AbortSignal.timeout: not found in time; NIXL has
 * no timeout status), else CanceledError. Either names what was awaited and
 * how long, with the abort reason as `cause`.
 */
export function waitAbortedError(
  what: string,
  reason: unknown,
  startMs: number,
  ctx: ErrorContext,
): NixlError {
  const ms = Math.round(performance.now() - startMs);
  const timedOut =
    typeof reason === 'object' &&
    reason !== null &&
    (reason as { name?: unknown }).name === 'TimeoutError';
  return timedOut
    ? new NotFoundError(`${what} did not appear within ${ms} ms (timed out)`, {
        ...ctx,
        cause: reason,
      })
    : new CanceledError(`waiting for ${what} was aborted after ${ms} ms`, {
        ...ctx,
        cause: reason,
      });
}
