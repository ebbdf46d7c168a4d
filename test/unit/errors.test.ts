import { describe, expect, it } from 'vitest';

import * as errors from '../../src/errors.js';
import { NixlError, statusToError } from '../../src/errors.js';

const TABLE: [keyof typeof errors, number, string][] = [
  ['NotPostedError', -1, 'NIXL_ERR_NOT_POSTED'],
  ['InvalidParamError', -2, 'NIXL_ERR_INVALID_PARAM'],
  ['BackendError', -3, 'NIXL_ERR_BACKEND'],
  ['NotFoundError', -4, 'NIXL_ERR_NOT_FOUND'],
  ['MismatchError', -5, 'NIXL_ERR_MISMATCH'],
  ['NotAllowedError', -6, 'NIXL_ERR_NOT_ALLOWED'],
  ['RepostActiveError', -7, 'NIXL_ERR_REPOST_ACTIVE'],
  ['UnknownError', -8, 'NIXL_ERR_UNKNOWN'],
  ['NotSupportedError', -9, 'NIXL_ERR_NOT_SUPPORTED'],
  ['RemoteDisconnectError', -10, 'NIXL_ERR_REMOTE_DISCONNECT'],
  ['CanceledError', -11, 'NIXL_ERR_CANCELED'],
  ['NoTelemetryError', -12, 'NIXL_ERR_NO_TELEMETRY'],
];

describe('errors', () => {
  it.each(TABLE)('%s has status %i and code %s', (name, status, code) => {
    const Cls = errors[name] as unknown as new (m: string, c?: object) => NixlError;
    const cause = new Error('root');
    const e = new Cls('went wrong', { op: 'postXferReq', agent: 'a1', backend: 'TCP', cause });
    expect(e).toBeInstanceOf(NixlError);
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(Cls);
    expect(e.name).toBe(name);
    expect(e.status).toBe(status);
    expect(e.code).toBe(code);
    expect(e.message).toBe("postXferReq, agent 'a1', backend TCP: went wrong");
    expect(e.cause).toBe(cause);
    expect(statusToError(status, 'x')).toBeInstanceOf(Cls);
  });

  it('classes are distinct', () => {
    expect(new errors.NotFoundError('x')).not.toBeInstanceOf(errors.MismatchError);
  });

  it('unknown statuses map to UnknownError', () => {
    expect(statusToError(-99, 'odd')).toBeInstanceOf(errors.UnknownError);
  });
});
