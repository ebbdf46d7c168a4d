/**
 * Parameters of the UCX backend. Everything is set per UCP context through
 * ucp_config_modify, never through the process environment, so two agents in
 * one process can use different transports.
 */
import type { BackendParams } from '../../src/backend.js';
import { InvalidParamError } from '../../src/errors.js';

export type ProgressMode = 'thread' | 'event';
/**
 * How a failed peer is noticed: 'peer' (UCX's peer error handling), 'none',
 * or 'process': a peer on this host is watched through its process and its
 * endpoints go without UCX error handling (on UCX 1.13 that is what lets
 * shared memory carry RMA); a peer elsewhere gets 'peer'. See
 * backends/ucx/README.md for what a peer dying mid-transfer can leave behind.
 */
export type ErrorMode = 'peer' | 'none' | 'process';
export type UcxProfile = '' | 'ib' | 'tcp' | 'shm';

/** Transport lists (UCX_TLS) of the named profiles. */
export const PROFILES: Readonly<Record<Exclude<UcxProfile, ''>, string>> = {
  // Verbs transports for InfiniBand and RoCE, plus loopback and shared memory for same-host peers.
  ib: 'rc,dc,ud,self,sm',
  // TCP only (also between processes of one host, where UCX would pick shared memory).
  tcp: 'tcp',
  // Shared memory and CMA, tcp for what needs peer failure detection.
  shm: 'posix,sysv,cma,tcp',
};

export const DEFAULT_PARAMS: Readonly<BackendParams> = {
  profile: '',
  transports: '',
  devices: '',
  numWorkers: '1',
  errorHandling: 'peer',
  progress: 'thread',
  timeout_ms: '10000',
  config: '',
};

export interface UcxOptions {
  readonly profile: UcxProfile;
  /** UCX_TLS equivalent; '' lets UCX choose among everything it finds. */
  readonly transports: string;
  /** UCX_NET_DEVICES equivalent; '' means all. */
  readonly devices: string;
  readonly numWorkers: number;
  readonly errorHandling: ErrorMode;
  readonly progress: ProgressMode;
  /** A peer with transfers in flight that completes nothing for this long fails; 0: never. */
  readonly timeoutMs: number;
  /** UCX configuration, in order: key (without the UCX_ prefix) and value. */
  readonly config: ReadonlyArray<readonly [string, string]>;
}

function invalid(message: string): never {
  throw new InvalidParamError(message, { op: 'createBackend', backend: 'UCX' });
}

/** The first of several names a parameter may go by (NIXL's names are accepted too). */
function pick(params: BackendParams, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = params[k];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

const KEY = /^[A-Z][A-Z0-9_]*$/;

/** "KEY=V,KEY=V2"; a piece without '=' continues the previous value (TLS=tcp,cma). */
export function parseConfigList(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const piece of text.split(',')) {
    const t = piece.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq < 0) {
      if (!out.length) invalid(`config: '${t}' is not KEY=VALUE`);
      out[out.length - 1]![1] += ',' + t;
      continue;
    }
    out.push([t.slice(0, eq).trim(), t.slice(eq + 1).trim()]);
  }
  return out;
}

function normalizeKey(raw: string): string {
  const k = raw.toUpperCase().replace(/^UCX_/, '');
  if (!KEY.test(k)) invalid(`config: '${raw}' is not a UCX configuration key`);
  return k;
}

function list(v: string): string {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(',');
}

export function parseParams(params: BackendParams): UcxOptions {
  const profile = (pick(params, 'profile') ?? '') as UcxProfile;
  if (profile !== '' && !(profile in PROFILES)) {
    invalid(`profile must be one of ${Object.keys(PROFILES).join(', ')}, got '${profile}'`);
  }
  const explicitTls = list(pick(params, 'transports', 'ucx_tls') ?? '');
  if (profile && explicitTls) {
    invalid(`give either profile ('${profile}') or transports ('${explicitTls}'), not both`);
  }
  const transports = explicitTls || (profile ? PROFILES[profile] : '');
  const devices = list(pick(params, 'devices', 'ucx_devices', 'device_list') ?? '');

  const nw = pick(params, 'numWorkers', 'num_workers') ?? '1';
  const numWorkers = Number(nw);
  if (!Number.isInteger(numWorkers) || numWorkers < 1 || numWorkers > 64) {
    invalid(`numWorkers must be an integer 1..64, got '${nw}'`);
  }
  const eh = pick(params, 'errorHandling', 'ucx_error_handling_mode') ?? 'peer';
  if (eh !== 'peer' && eh !== 'none' && eh !== 'process')
    invalid(`errorHandling must be 'peer', 'none' or 'process', got '${eh}'`);
  const progress = pick(params, 'progress') ?? 'thread';
  if (progress !== 'thread' && progress !== 'event') {
    invalid(`progress must be 'thread' or 'event', got '${progress}'`);
  }
  const tm = pick(params, 'timeout_ms', 'timeoutMs') ?? '10000';
  const timeoutMs = Number(tm);
  if (!/^\d+$/.test(tm) || timeoutMs > 86_400_000) {
    invalid(`timeout_ms must be an integer 0..86400000 (0: never), got '${tm}'`);
  }

  const config: [string, string][] = [];
  if (transports) config.push(['TLS', transports]);
  if (devices) config.push(['NET_DEVICES', devices]);
  for (const [k, v] of parseConfigList(pick(params, 'config', 'engine_config') ?? '')) {
    config.push([normalizeKey(k), v]);
  }
  for (const [k, v] of Object.entries(params)) {
    if (k.startsWith('ucx.')) config.push([normalizeKey(k.slice(4)), v]);
  }
  return {
    profile,
    transports,
    devices,
    numWorkers,
    errorHandling: eh,
    progress,
    timeoutMs,
    config,
  };
}
