/**
 * Parameters of the UCX backend. Everything is set per UCP context through
 * ucp_config_modify, never through the process environment, so two agents in
 * one process can use different transports.
 */
import type { BackendParams } from '../../src/backend.js';
import { InvalidParamError } from '../../src/errors.js';
import {
  integer,
  oneOf,
  onOff,
  paramDefaults,
  parseParamTable,
  text,
} from '../common/param-table.js';

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

const list = (v: string): string =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(',');

/** The UCX backend's parameters (see backends/common/param-table.ts), NIXL's names first. */
export const UCX_PARAM_TABLE = {
  profile: {
    field: 'profile',
    default: '',
    defaultDoc: "`''`",
    doc: 'a named transport set, see below; exclusive with `transports`',
    parse: (raw: string, fail: (want: string) => never): UcxProfile => {
      if (raw !== '' && !(raw in PROFILES)) fail(`one of ${Object.keys(PROFILES).join(', ')}`);
      return raw as UcxProfile;
    },
  },
  transports: {
    field: 'transports',
    aliases: ['ucx_tls'],
    default: '',
    defaultDoc: "`''` (UCX chooses)",
    doc: 'comma list, the `UCX_TLS` equivalent, e.g. `tcp`, `posix,sysv,cma,tcp`, `rc,ud`',
    parse: list,
  },
  devices: {
    field: 'devices',
    aliases: ['ucx_devices', 'device_list'],
    default: '',
    defaultDoc: "`''` (all)",
    doc: 'comma list, the `UCX_NET_DEVICES` equivalent, e.g. `lo`, `mlx5_0:1`',
    parse: list,
  },
  num_workers: {
    field: 'numWorkers',
    aliases: ['numWorkers'],
    default: '1',
    doc: "UCP workers, 1..64. Transfers are spread round-robin, or pinned with `customParam` `worker_id=N` (NIXL's syntax)",
    parse: integer(1, 64),
  },
  error_handling: {
    field: 'errorHandling',
    aliases: ['errorHandling', 'ucx_error_handling_mode'],
    default: 'peer',
    doc: '`peer`: endpoints use `UCP_ERR_HANDLING_MODE_PEER`, so a dead peer fails its transfers with `RemoteDisconnectError`. `none`: no failure detection (a dead peer may go unnoticed). `process`: a peer on this host is watched through its process (below) and its endpoints go without UCX error handling; a peer elsewhere gets `peer`',
    parse: oneOf<ErrorMode>('peer', 'none', 'process'),
  },
  progress: {
    field: 'progress',
    default: 'thread',
    doc: '`thread` or `event`, see below',
    parse: oneOf<ProgressMode>('thread', 'event'),
  },
  timeout_ms: {
    field: 'timeoutMs',
    aliases: ['timeoutMs'],
    default: '10000',
    doc: 'a peer with transfers in flight that finishes no transfer and no put or get of 256 KiB or more for this long is failed: `RemoteDisconnectError` "made no progress for N ms (timed out)", and the agent drops it. UCX itself notices neither a frozen peer (SIGSTOP) nor a stuck shared-memory queue. `0`: never',
    parse: integer(0, 86_400_000),
  },
  notif_ack: {
    field: 'notifAck',
    default: 'on',
    doc: "`on`: a transfer with a notification is `DONE` only once the target has it (its `getNotifs` returns it): this agent's regions tell peers it acknowledges notifications, and toward a peer whose regions say so its transfers wait for that acknowledgement, one active message back (see Semantics). `off`: as NIXL, `DONE` once the notification was sent, and this agent's regions offer no acknowledgement (as an agent before it).",
    parse: onOff('on', 'off'),
  },
  config: {
    field: 'configText',
    aliases: ['engine_config'],
    default: '',
    defaultDoc: "`''`",
    doc: 'extra UCX configuration, `KEY=VALUE,KEY=VALUE` (keys with or without `UCX_`); a piece without `=` continues the previous value, so `TLS=tcp,cma` works',
    parse: text,
  },
  'ucx.KEY': {
    field: 'ucxKeyDoc',
    default: '',
    defaultDoc: '—',
    docOnly: true,
    doc: "one more UCX setting per parameter, e.g. `{ 'ucx.KEEPALIVE_INTERVAL': '1s' }`",
    parse: text,
  },
} as const;

export const DEFAULT_PARAMS: Readonly<BackendParams> = paramDefaults(UCX_PARAM_TABLE);

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
  /** Acknowledge notifications, and wait for a target's acknowledgement before DONE. */
  readonly notifAck: boolean;
  /** UCX configuration, in order: key (without the UCX_ prefix) and value. */
  readonly config: ReadonlyArray<readonly [string, string]>;
}

function invalid(message: string): never {
  throw new InvalidParamError(message, { op: 'createBackend', backend: 'UCX' });
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

export function parseParams(params: BackendParams): UcxOptions {
  const p = parseParamTable(UCX_PARAM_TABLE, params, 'UCX', (k) => k.startsWith('ucx.'));
  if (p.profile && p.transports) {
    invalid(`give either profile ('${p.profile}') or transports ('${p.transports}'), not both`);
  }
  const transports = p.transports || (p.profile ? PROFILES[p.profile] : '');
  const config: [string, string][] = [];
  if (transports) config.push(['TLS', transports]);
  if (p.devices) config.push(['NET_DEVICES', p.devices]);
  for (const [k, v] of parseConfigList(p.configText)) config.push([normalizeKey(k), v]);
  for (const [k, v] of Object.entries(params)) {
    if (k.startsWith('ucx.')) config.push([normalizeKey(k.slice(4)), v]);
  }
  return {
    profile: p.profile,
    transports,
    devices: p.devices,
    numWorkers: p.numWorkers,
    errorHandling: p.errorHandling,
    progress: p.progress,
    timeoutMs: p.timeoutMs,
    notifAck: p.notifAck,
    config,
  };
}
