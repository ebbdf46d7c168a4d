/**
 * The etcd client: etcd3 (grpc-js) with bounds fit for a control plane. Every
 * unary call has a deadline; a failing endpoint is skipped for 0.5 s, not 5;
 * the watch stream and gRPC channels reconnect within a second of etcd coming
 * back, not after growing to 30 s or more; a gRPC message larger than the
 * value bound (plus room for a few small keys) is refused before it is read
 * whole. etcd3 and cockatiel load on first use (an agent without etcd never
 * loads them).
 */
import http2 from 'node:http2';

import type { Etcd3 } from 'etcd3';

import { BackendError, NotAllowedError, type NixlError } from '../../src/errors.js';
import { describe, type EtcdConfig } from './config.js';

/** Room beside the largest value in one gRPC message (headers, keys, small values). */
const MESSAGE_SLACK_BYTES = 1024 * 1024;

/**
 * Marks the HTTP/2 sessions of this plugin's clients (grpc-js passes the
 * option through as the session's maxSessionMemory; any value this large
 * means no limit, as grpc-js's own default).
 */
const SESSION_MARK = Number.MAX_SAFE_INTEGER - 0x6e69;
let sessionsUnrefd = false;

/**
 * An idle agent must not keep the process alive (DESIGN.md rule 6), but
 * grpc-js refs its HTTP/2 session while any call is open, and the etcd
 * watch is a call that never ends; grpc-js has no option against that. So
 * the sessions of this plugin's clients (and only those, by their mark) are
 * unref'd for good; the plugin holds the event loop open itself while the
 * user awaits one of its calls (liveness.ts). http2.connect is wrapped once
 * per thread; every other session passes through untouched.
 */
function unrefMarkedSessions(): void {
  if (sessionsUnrefd) return;
  sessionsUnrefd = true;
  const connect = http2.connect;
  http2.connect = function (this: unknown, ...args: unknown[]) {
    const session = (connect as (...a: unknown[]) => http2.ClientHttp2Session).apply(this, args);
    const opts = args.find((a) => typeof a === 'object' && a !== null && !(a instanceof URL)) as
      http2.ClientSessionOptions | undefined;
    if (opts?.maxSessionMemory === SESSION_MARK) {
      session.unref();
      session.ref = () => {};
    }
    return session;
  } as typeof http2.connect;
}

/** The largest gRPC message the client reads: one value at the bound, and room beside it. */
export function messageBound(c: EtcdConfig): number {
  return Math.min(2 ** 31 - 1, c.maxValueBytes + MESSAGE_SLACK_BYTES);
}

export async function createClient(c: EtcdConfig): Promise<Etcd3> {
  unrefMarkedSessions();
  const { Etcd3, isRecoverableError } = await import('etcd3');
  const { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry } =
    await import('cockatiel');
  // A message over the receive bound is not transient: neither retried nor held against the endpoint.
  const recoverable = handleWhen((err) => isRecoverableError(err) && !isTooLarge(err));
  return new Etcd3({
    hosts: c.endpoints,
    auth: c.auth,
    credentials: c.tls
      ? { rootCertificate: c.tls.ca!, privateKey: c.tls.key, certChain: c.tls.cert }
      : undefined,
    dialTimeout: c.connectTimeoutMs,
    defaultCallOptions: (call) =>
      call.isStream ? {} : { deadline: Date.now() + c.requestTimeoutMs },
    grpcOptions: {
      'grpc.max_receive_message_length': messageBound(c),
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc-node.max_session_memory': SESSION_MARK,
    },
    faultHandling: {
      host: () =>
        circuitBreaker(recoverable, { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      global: retry(recoverable, {
        maxAttempts: 2,
        backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }),
      }),
      // etcd3 wants a backoff in progress (it calls next() for each step).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next(),
    },
  });
}

const REFUSALS = new Set([
  'EtcdAuthenticationFailedError',
  'EtcdPermissionDeniedError',
  'EtcdUserNotFoundError',
  'EtcdRoleNotGrantedError',
  'GRPCUnauthenticatedError',
]);

/**
 * An etcd failure as a typed error naming what was being done and where:
 * NotAllowedError when etcd refused the credentials or the permission, else
 * BackendError. The message never carries a credential.
 */
export function etcdError(err: unknown, what: string, c: EtcdConfig, op = 'etcd'): NixlError {
  const detail = (err as Error | undefined)?.message ?? String(err);
  if (REFUSALS.has(errorClass(err))) {
    return new NotAllowedError(`${what}: ${describe(c)} refused: ${detail}`, { op, cause: err });
  }
  return new BackendError(`${what}: ${describe(c)}: ${detail}`, { op, cause: err });
}

/** The end of the range of keys that start with `prefix` (etcd's prefix convention). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The class name of an etcd3 error (they do not set `name`). */
export function errorClass(err: unknown): string {
  return (err as object | null)?.constructor?.name ?? '';
}

/** True for gRPC's RESOURCE_EXHAUSTED: a message over the receive bound. */
export function isTooLarge(err: unknown): boolean {
  return errorClass(err) === 'GRPCResourceExhastedError' || (err as { code?: unknown })?.code === 8;
}
