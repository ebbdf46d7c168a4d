/**
 * The etcd plugin's settings: options given in code, else NIXL's environment
 * variables (NIXL_ETCD_ENDPOINTS, NIXL_ETCD_NAMESPACE) and nixl-ts's for
 * credentials (NIXL_ETCD_USERNAME, NIXL_ETCD_PASSWORD, NIXL_ETCD_CA_FILE,
 * NIXL_ETCD_CERT_FILE, NIXL_ETCD_KEY_FILE), else the defaults. Credentials
 * are kept out of every message and log line: describe() names the
 * endpoints and the user only.
 */
import { readFileSync } from 'node:fs';

import { InvalidParamError } from '../../src/errors.js';
import { DEFAULT_NAMESPACE, normalizeNamespace } from './keys.js';

export interface EtcdTlsOptions {
  /** The CA that signed etcd's server certificate (PEM). */
  ca?: string | Uint8Array;
  /** This client's certificate (PEM), for etcd's --client-cert-auth. */
  cert?: string | Uint8Array;
  /** This client's private key (PEM). */
  key?: string | Uint8Array;
}

export interface EtcdOptions {
  /** etcd client URLs; env NIXL_ETCD_ENDPOINTS (comma-separated); default http://127.0.0.1:2379. */
  endpoints?: string | readonly string[];
  /** Key prefix of the agents; env NIXL_ETCD_NAMESPACE; default /nixl/agents/. */
  namespace?: string;
  /** etcd user and password (etcd's auth); env NIXL_ETCD_USERNAME and NIXL_ETCD_PASSWORD. */
  username?: string;
  password?: string;
  /** TLS (https endpoints); env NIXL_ETCD_CA_FILE, NIXL_ETCD_CERT_FILE, NIXL_ETCD_KEY_FILE name PEM files. */
  tls?: EtcdTlsOptions;
  /** TTL of the lease this agent's keys live under: a crashed agent is forgotten after it. Default 10 s. */
  ttlSeconds?: number;
  /** Bound on reaching etcd at start (lease, first read, watch). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Bound on one etcd request while running. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** A peer's value larger than this is ignored with a discovery:error. Default 64 MiB. */
  maxValueBytes?: number;
  /** How often peers that the agent dropped by itself (a backend failure) are reloaded. Default 2000 ms. */
  recheckMs?: number;
  /**
   * Most peers loaded at once, and most refused values remembered (default
   * 4096 each): past it a new agent name is refused with a discovery:error.
   */
  maxPeers?: number;
}

export interface EtcdConfig {
  endpoints: string[];
  namespace: string;
  auth?: { username: string; password: string };
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  ttlSeconds: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxValueBytes: number;
  recheckMs: number;
  maxPeers: number;
}

export const ENDPOINTS_ENV = 'NIXL_ETCD_ENDPOINTS';
export const NAMESPACE_ENV = 'NIXL_ETCD_NAMESPACE';
export const USERNAME_ENV = 'NIXL_ETCD_USERNAME';
export const PASSWORD_ENV = 'NIXL_ETCD_PASSWORD';
export const CA_FILE_ENV = 'NIXL_ETCD_CA_FILE';
export const CERT_FILE_ENV = 'NIXL_ETCD_CERT_FILE';
export const KEY_FILE_ENV = 'NIXL_ETCD_KEY_FILE';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:2379';
export const DEFAULT_MAX_PEERS = 4096;
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;

const ctx = { op: 'etcd' };

function positive(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new InvalidParamError(`etcd: ${what} must be a positive number, got ${value}`, ctx);
  }
  return v;
}

/** An endpoint as a URL with its scheme: https when TLS is set, else http, unless it names one. */
function normalizeEndpoint(e: string, tls: boolean): string {
  const withScheme = /^[a-z]+:\/\//i.test(e) ? e : `${tls ? 'https' : 'http'}://${e}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidParamError(
      `etcd: endpoint ${JSON.stringify(e)} is not a URL or host:port`,
      ctx,
    );
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.port || url.username) {
    throw new InvalidParamError(
      `etcd: endpoint ${JSON.stringify(url.host)} must be http(s)://host:port without credentials`,
      ctx,
    );
  }
  return `${url.protocol}//${url.host}`;
}

function pem(
  v: string | Uint8Array | undefined,
  file: string | undefined,
  what: string,
): Buffer | undefined {
  if (v !== undefined) return Buffer.from(v);
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InvalidParamError(
      `etcd: cannot read the ${what} file ${file}: ${(err as Error).message}`,
      ctx,
    );
  }
}

export function resolveConfig(
  opts: EtcdOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): EtcdConfig {
  const ca = pem(opts.tls?.ca, env[CA_FILE_ENV], 'CA');
  const cert = pem(opts.tls?.cert, env[CERT_FILE_ENV], 'client certificate');
  const key = pem(opts.tls?.key, env[KEY_FILE_ENV], 'client key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidParamError(
      'etcd: a client certificate needs its key, and a key its certificate',
      ctx,
    );
  }
  const tls = ca || cert ? { ca, cert, key } : undefined;

  const raw = opts.endpoints ?? env[ENDPOINTS_ENV] ?? DEFAULT_ENDPOINT;
  const list = (typeof raw === 'string' ? raw.split(',') : [...raw])
    .map((e) => e.trim())
    .filter(Boolean);
  if (list.length === 0) throw new InvalidParamError('etcd: no endpoint given', ctx);
  const endpoints = list.map((e) => normalizeEndpoint(e, tls !== undefined));

  const username = opts.username ?? env[USERNAME_ENV];
  const password = opts.password ?? env[PASSWORD_ENV];
  if ((username === undefined) !== (password === undefined)) {
    throw new InvalidParamError('etcd: give both a username and a password, or neither', ctx);
  }
  const ttlSeconds = positive(opts.ttlSeconds, 10, 'ttlSeconds');
  if (!Number.isInteger(ttlSeconds)) {
    throw new InvalidParamError(`etcd: ttlSeconds must be a whole number, got ${ttlSeconds}`, ctx);
  }
  return {
    endpoints,
    namespace: normalizeNamespace(opts.namespace ?? env[NAMESPACE_ENV] ?? DEFAULT_NAMESPACE),
    auth: username !== undefined ? { username, password: password! } : undefined,
    tls,
    ttlSeconds,
    connectTimeoutMs: positive(opts.connectTimeoutMs, 5000, 'connectTimeoutMs'),
    requestTimeoutMs: positive(opts.requestTimeoutMs, 5000, 'requestTimeoutMs'),
    maxValueBytes: positive(opts.maxValueBytes, DEFAULT_MAX_VALUE_BYTES, 'maxValueBytes'),
    recheckMs: positive(opts.recheckMs, 2000, 'recheckMs'),
    maxPeers: positive(opts.maxPeers, DEFAULT_MAX_PEERS, 'maxPeers'),
  };
}

/** The endpoints and the user, for messages: never a password or a key. */
export function describe(c: EtcdConfig): string {
  const who = c.auth ? ` as user '${c.auth.username}'` : '';
  return `etcd at ${c.endpoints.join(', ')}${who}`;
}
