/**
 * NIXL's `nixl_status_t` values. IN_PROG and SUCCESS are states; the negative
 * values are errors, each with its own class in `errors.ts`.
 */
export const Status = {
  IN_PROG: 1,
  SUCCESS: 0,
  ERR_NOT_POSTED: -1,
  ERR_INVALID_PARAM: -2,
  ERR_BACKEND: -3,
  ERR_NOT_FOUND: -4,
  ERR_MISMATCH: -5,
  ERR_NOT_ALLOWED: -6,
  ERR_REPOST_ACTIVE: -7,
  ERR_UNKNOWN: -8,
  ERR_NOT_SUPPORTED: -9,
  ERR_REMOTE_DISCONNECT: -10,
  ERR_CANCELED: -11,
  ERR_NO_TELEMETRY: -12,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

/** What a backend's postXfer returns: the transfer finished inside the call, or is in flight. */
export type PostStatus = typeof Status.SUCCESS | typeof Status.IN_PROG;

const STATUS_NAMES = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v, k]));

/** Whether `value` is one of NIXL's status codes. */
export function isStatusCode(value: unknown): value is StatusCode {
  return typeof value === 'number' && STATUS_NAMES.has(value);
}

/** `value` for a message: a status code with its name (`-10 (ERR_REMOTE_DISCONNECT)`), or as is. */
export function describeStatus(value: unknown): string {
  const name = typeof value === 'number' ? STATUS_NAMES.get(value) : undefined;
  if (name) return `${value} (${name})`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** What `getXferStatus` reports for a request that has not failed. */
export type XferState = 'NOT_POSTED' | 'IN_PROG' | 'DONE';
