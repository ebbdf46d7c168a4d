import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

import type { BackendParams } from '../../src/backend.js';
import { InvalidParamError } from '../../src/errors.js';

/** The TCP backend's parameters, parsed. See README.md for the table. */
export interface TcpParams {
  bindAddr: string;
  port: number;
  /** The address peers dial (conn info); defaults to the bind address. */
  advertiseAddr: string;
  streams: number;
  sameHost: boolean;
  timeoutMs: number;
  connectTimeoutMs: number;
  busyPollUs: number;
  stripeMinBytes: number;
  /** Threads that share one large same-host copy on the target (1 = its I/O thread alone). */
  copyThreads: number;
  slots: number;
}

export const DEFAULT_PARAMS: Readonly<BackendParams> = {
  bind_addr: '127.0.0.1',
  port: '0',
  advertise_addr: '',
  streams: '2',
  same_host: 'auto',
  timeout_ms: '10000',
  connect_timeout_ms: '5000',
  busy_poll_us: '0',
  stripe_min_bytes: String(4 * 1024 * 1024),
  copy_threads: '2',
  slots: '65536',
};

function fail(key: string, value: string | undefined, want: string): never {
  throw new InvalidParamError(`parameter ${key} must be ${want}, got '${value}'`, {
    backend: 'TCP',
  });
}

function int(p: BackendParams, key: string, min: number, max: number): number {
  const raw = p[key] ?? DEFAULT_PARAMS[key]!;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(v) || v < min || v > max) {
    fail(key, raw, `an integer in ${min}..${max}`);
  }
  return v;
}

/** The first non-internal address of the family, for a wildcard bind. */
function firstExternal(family: 'IPv4' | 'IPv6'): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === family && !a.internal) return a.address;
  }
  return undefined;
}

export function parseParams(p: BackendParams): TcpParams {
  const known = new Set(Object.keys(DEFAULT_PARAMS));
  for (const k of Object.keys(p)) {
    if (!known.has(k)) {
      throw new InvalidParamError(`unknown parameter '${k}'; known: ${[...known].join(', ')}`, {
        backend: 'TCP',
      });
    }
  }
  const bindAddr = p.bind_addr ?? DEFAULT_PARAMS.bind_addr!;
  if (isIP(bindAddr) === 0) fail('bind_addr', bindAddr, 'a numeric IPv4 or IPv6 address');
  let advertiseAddr = p.advertise_addr ?? '';
  if (advertiseAddr !== '' && isIP(advertiseAddr) === 0) {
    fail('advertise_addr', advertiseAddr, 'a numeric IP address or empty');
  }
  if (advertiseAddr === '') {
    if (bindAddr === '0.0.0.0') advertiseAddr = firstExternal('IPv4') ?? '127.0.0.1';
    else if (bindAddr === '::') advertiseAddr = firstExternal('IPv6') ?? '::1';
    else advertiseAddr = bindAddr;
  }
  const sameHost = p.same_host ?? DEFAULT_PARAMS.same_host!;
  if (sameHost !== 'auto' && sameHost !== 'off') fail('same_host', sameHost, "'auto' or 'off'");
  return {
    bindAddr,
    port: int(p, 'port', 0, 65535),
    advertiseAddr,
    streams: int(p, 'streams', 1, 16),
    sameHost: sameHost === 'auto',
    timeoutMs: int(p, 'timeout_ms', 100, 3_600_000),
    connectTimeoutMs: int(p, 'connect_timeout_ms', 100, 3_600_000),
    busyPollUs: int(p, 'busy_poll_us', 0, 1_000_000),
    stripeMinBytes: int(p, 'stripe_min_bytes', 0, 2 ** 40),
    copyThreads: int(p, 'copy_threads', 1, 16),
    slots: int(p, 'slots', 16, 1 << 22),
  };
}
