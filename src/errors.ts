import { Status } from './status.js';

/** Context that every error message names: the operation, and where it happened. */
export interface ErrorContext {
  op?: string;
  agent?: string;
  backend?: string;
  cause?: unknown;
}

const ERROR_BRAND = Symbol.for('nixl-ts/error');

/**
 * Base class of every error nixl-ts raises. `status` is NIXL's numeric status,
 * `code` its enum name (`NIXL_ERR_NOT_FOUND`).
 */
export class NixlError extends Error {
  readonly status: number = Status.ERR_UNKNOWN;
  readonly code: string = 'NIXL_ERR_UNKNOWN';
  readonly op?: string;
  readonly agent?: string;
  readonly backend?: string;

  constructor(message: string, ctx: ErrorContext = {}) {
    super(formatMessage(message, ctx), ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.op = ctx.op;
    this.agent = ctx.agent;
    this.backend = ctx.backend;
  }

  /** Errors from two copies of the package still pass `instanceof NixlError`. */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (this !== NixlError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as any)[ERROR_BRAND] === true;
  }
}
Object.defineProperty(NixlError.prototype, ERROR_BRAND, { value: true });

function formatMessage(message: string, ctx: ErrorContext): string {
  const where: string[] = [];
  if (ctx.op) where.push(ctx.op);
  if (ctx.agent) where.push(`agent '${ctx.agent}'`);
  if (ctx.backend) where.push(`backend ${ctx.backend}`);
  return where.length ? `${where.join(', ')}: ${message}` : message;
}

type ErrorClass = new (message: string, ctx?: ErrorContext) => NixlError;

function defineError(name: string, status: number, code: string): ErrorClass {
  const cls = class extends NixlError {
    override readonly status = status;
    override readonly code = code;
  };
  Object.defineProperty(cls, 'name', { value: name });
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  return cls;
}

// One class per NIXL error status, generated from this table.
export const NotPostedError = defineError(
  'NotPostedError',
  Status.ERR_NOT_POSTED,
  'NIXL_ERR_NOT_POSTED',
);
export const InvalidParamError = defineError(
  'InvalidParamError',
  Status.ERR_INVALID_PARAM,
  'NIXL_ERR_INVALID_PARAM',
);
export const BackendError = defineError('BackendError', Status.ERR_BACKEND, 'NIXL_ERR_BACKEND');
export const NotFoundError = defineError(
  'NotFoundError',
  Status.ERR_NOT_FOUND,
  'NIXL_ERR_NOT_FOUND',
);
export const MismatchError = defineError('MismatchError', Status.ERR_MISMATCH, 'NIXL_ERR_MISMATCH');
export const NotAllowedError = defineError(
  'NotAllowedError',
  Status.ERR_NOT_ALLOWED,
  'NIXL_ERR_NOT_ALLOWED',
);
export const RepostActiveError = defineError(
  'RepostActiveError',
  Status.ERR_REPOST_ACTIVE,
  'NIXL_ERR_REPOST_ACTIVE',
);
export const UnknownError = defineError('UnknownError', Status.ERR_UNKNOWN, 'NIXL_ERR_UNKNOWN');
export const NotSupportedError = defineError(
  'NotSupportedError',
  Status.ERR_NOT_SUPPORTED,
  'NIXL_ERR_NOT_SUPPORTED',
);
export const RemoteDisconnectError = defineError(
  'RemoteDisconnectError',
  Status.ERR_REMOTE_DISCONNECT,
  'NIXL_ERR_REMOTE_DISCONNECT',
);
export const CanceledError = defineError('CanceledError', Status.ERR_CANCELED, 'NIXL_ERR_CANCELED');
export const NoTelemetryError = defineError(
  'NoTelemetryError',
  Status.ERR_NO_TELEMETRY,
  'NIXL_ERR_NO_TELEMETRY',
);

export type NotPostedError = NixlError;
export type InvalidParamError = NixlError;
export type BackendError = NixlError;
export type NotFoundError = NixlError;
export type MismatchError = NixlError;
export type NotAllowedError = NixlError;
export type RepostActiveError = NixlError;
export type UnknownError = NixlError;
export type NotSupportedError = NixlError;
export type RemoteDisconnectError = NixlError;
export type CanceledError = NixlError;
export type NoTelemetryError = NixlError;

const BY_STATUS = new Map<number, ErrorClass>([
  [Status.ERR_NOT_POSTED, NotPostedError],
  [Status.ERR_INVALID_PARAM, InvalidParamError],
  [Status.ERR_BACKEND, BackendError],
  [Status.ERR_NOT_FOUND, NotFoundError],
  [Status.ERR_MISMATCH, MismatchError],
  [Status.ERR_NOT_ALLOWED, NotAllowedError],
  [Status.ERR_REPOST_ACTIVE, RepostActiveError],
  [Status.ERR_UNKNOWN, UnknownError],
  [Status.ERR_NOT_SUPPORTED, NotSupportedError],
  [Status.ERR_REMOTE_DISCONNECT, RemoteDisconnectError],
  [Status.ERR_CANCELED, CanceledError],
  [Status.ERR_NO_TELEMETRY, NoTelemetryError],
]);

/** The one mapper from a numeric status (e.g. from native code) to an error. */
export function statusToError(status: number, message: string, ctx: ErrorContext = {}): NixlError {
  const cls = BY_STATUS.get(status) ?? UnknownError;
  return new cls(message, ctx);
}
