import { NixlError, statusToError, type ErrorContext } from '../../src/errors.js';
import { Status } from '../../src/status.js';

/**
 * The NixlError for an error a native engine threw. The addons throw an Error
 * with a numeric `status` (native/common/native_error.h); it becomes the
 * subclass of that status. Anything else (a bug, an exception from below
 * node-addon-api) is a BackendError.
 */
export function fromNative(err: unknown, ctx: ErrorContext): NixlError {
  if (err instanceof NixlError) return err;
  const status = (err as { status?: unknown })?.status;
  const message = (err as Error)?.message ?? String(err);
  return statusToError(typeof status === 'number' ? status : Status.ERR_BACKEND, message, {
    ...ctx,
    cause: err,
  });
}
