import { CanceledError, type ErrorContext } from '../../src/errors.js';

/**
 * `work`, or a CanceledError (the abort reason as its cause) as soon as
 * `signal` aborts. The work itself goes on; `onAbort` lets the caller drop
 * what it keeps for it.
 */
export function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  ctx: ErrorContext,
  onAbort?: () => void,
): Promise<T> {
  if (!signal) return work;
  const canceled = () => abortedError(signal, ctx);
  if (signal.aborted) {
    onAbort?.();
    work.catch(() => {});
    return Promise.reject(canceled());
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      work.catch(() => {});
      reject(canceled());
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (v) => (signal.removeEventListener('abort', abort), resolve(v)),
      (e) => (signal.removeEventListener('abort', abort), reject(e)),
    );
  });
}

/** Throws the CanceledError `abortable` gives if `signal` has already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, ctx: ErrorContext): void {
  if (signal?.aborted) throw abortedError(signal, ctx);
}

function abortedError(signal: AbortSignal, ctx: ErrorContext): CanceledError {
  return new CanceledError(`${ctx.op ?? 'the wait'} was aborted`, { ...ctx, cause: signal.reason });
}
