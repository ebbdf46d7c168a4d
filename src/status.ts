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

/** What `getXferStatus` reports for a request that has not failed. */
export type XferState = 'NOT_POSTED' | 'IN_PROG' | 'DONE';
