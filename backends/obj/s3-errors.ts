/**
 * An S3 client failure as the NixlError of its meaning: an object or bucket
 * that is not there is NotFoundError (NIXL's NIXL_ERR_NOT_FOUND), refused
 * credentials NotAllowedError, a store that does not answer (connection
 * refused or reset, the request timeout) RemoteDisconnectError, anything
 * else BackendError. The SDK's error is the cause.
 */
import {
  BackendError,
  CanceledError,
  NixlError,
  NotAllowedError,
  NotFoundError,
  RemoteDisconnectError,
  type ErrorContext,
} from '../../src/errors.js';

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchUpload']);
const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'Forbidden',
  'ExpiredToken',
]);
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'TimeoutError',
  'RequestTimeout',
]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** What went wrong in `what` (e.g. "GET b/k bytes 0-99"), typed. */
export function s3Error(
  err: unknown,
  what: string,
  ctx: ErrorContext,
  timedOut: boolean,
): NixlError {
  if (err instanceof NixlError) return err;
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? '';
  const code = e.code ?? '';
  const http = e.$metadata?.httpStatusCode;
  const c = { ...ctx, cause: err };
  if (timedOut) {
    return new RemoteDisconnectError(
      `${what}: the object store did not answer within the request timeout`,
      c,
    );
  }
  if (name === 'AbortError') return new CanceledError(`${what}: aborted`, c);
  if (NOT_FOUND.has(name) || NOT_FOUND.has(code) || http === 404) {
    return new NotFoundError(
      `${what}: ${name || 'not found'} (the object or bucket does not exist)`,
      c,
    );
  }
  if (DENIED.has(name) || http === 403) {
    return new NotAllowedError(`${what}: ${name || 'access denied'}: ${e.message ?? ''}`, c);
  }
  if (
    UNREACHABLE.has(name) ||
    UNREACHABLE.has(code) ||
    /socket hang up|ECONNRE/.test(e.message ?? '')
  ) {
    return new RemoteDisconnectError(
      `${what}: the object store is unreachable (${code || name}): ${e.message ?? ''}`,
      c,
    );
  }
  return new BackendError(
    `${what}: ${name || 'error'}${http ? ` (HTTP ${http})` : ''}: ${e.message ?? String(err)}`,
    c,
  );
}
