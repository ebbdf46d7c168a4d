/**
 * The TCP backend's parameters: one table (see backends/common/param-table.ts)
 * from which the parser, the README table and the native engine's options
 * come.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

import type { BackendParams } from '../../src/backend.js';
import {
  integer,
  oneOf,
  onOff,
  paramDefaults,
  parseParamTable,
  type ParsedParams,
} from '../common/param-table.js';

const address = (raw: string, fail: (want: string) => never): string => {
  if (isIP(raw) === 0) fail('a numeric IPv4 or IPv6 address');
  return raw;
};

export const TCP_PARAM_TABLE = {
  bind_addr: {
    field: 'bindAddr',
    default: '127.0.0.1',
    doc: 'numeric IPv4/IPv6 address the listener binds. The default accepts only local peers; use `0.0.0.0` (or a NIC address) to serve other hosts.',
    parse: address,
  },
  port: {
    field: 'port',
    default: '0',
    doc: 'listening port; `0` picks a free one.',
    parse: integer(0, 65535),
  },
  advertise_addr: {
    field: 'advertiseAddr',
    default: '',
    defaultDoc: '(empty)',
    doc: 'address peers dial, put in the connection info. Empty: the bind address, or for a wildcard bind the first non-internal address of that family.',
    parse: (raw: string, fail: (want: string) => never): string =>
      raw === '' ? '' : address(raw, () => fail('a numeric IP address or empty')),
  },
  streams: {
    field: 'streams',
    default: '2',
    doc: 'TCP connections per peer. Transfers of at least `stripe_min_bytes` are striped over all of them.',
    parse: integer(1, 16),
  },
  stripe_min_bytes: {
    field: 'stripeMinBytes',
    default: String(4 * 1024 * 1024),
    doc: 'smallest transfer (total bytes) that is striped.',
    parse: integer(0, 2 ** 40),
  },
  tcp_congestion: {
    field: 'tcpCongestion',
    default: 'auto',
    doc: "TCP congestion control of this side's TCP connections (the sending side's paces the payload: the initiator's for a WRITE, the target's for a READ). `auto`: `reno` on loopback connections, the system default elsewhere (measured here: the system default BBR paced single 1–8 MiB loopback transfers to about half of what `reno` moves, see bench/cli/results/2026-12-socket-cliff/); `system`: the system default everywhere; any other value: that algorithm on every TCP connection (creating the backend fails if the kernel refuses it).",
    parse: (raw: string, fail: (want: string) => never): string => {
      if (!/^[a-z0-9_-]{1,15}$/.test(raw)) fail("'auto', 'system' or an algorithm's name");
      return raw;
    },
  },
  copy_threads: {
    field: 'copyThreads',
    default: '2',
    doc: 'threads that share one same-host copy of 1 MiB or more (the I/O thread plus `copy_threads - 1` helpers, started on first use); `1` copies on the I/O thread alone.',
    parse: integer(1, 16),
  },
  same_host: {
    field: 'sameHost',
    default: 'auto',
    doc: '`auto`: peers on this host connect over its Unix socket, and the kernel vouching for their process, payload moves with `process_vm_readv` (each side writes only its own memory); `off`: always the TCP socket.',
    parse: onOff('auto', 'off'),
  },
  same_host_shm: {
    field: 'sameHostShm',
    default: 'auto',
    doc: "`auto`: memory from this backend's `alloc` is a memfd that a same-host peer (connected over the Unix socket, the kernel vouching for it) may map once a registered region covers the whole allocation; its transfers of up to `shm_max_bytes` are then one memcpy on the posting thread (see README, Shared memory). Any other registered region gets a pull grant instead: such a peer READs it with `process_vm_readv` on its posting thread, without a round trip (WRITEs keep the target's copy). Both sides must allow it. `off`: never map nor grant; `alloc` returns ordinary memory.",
    parse: onOff('auto', 'off'),
  },
  shm_max_bytes: {
    field: 'shmMaxBytes',
    default: String(256 * 1024 * 1024),
    doc: 'largest transfer (total bytes) copied through a shared-memory mapping; larger ones take the same-host copy path (`process_vm_readv`). See `shm_inline_max_bytes` for which thread copies.',
    parse: integer(0, 2 ** 40),
  },
  shm_inline_max_bytes: {
    field: 'shmInlineMaxBytes',
    default: String(4 * 1024 * 1024),
    doc: 'largest shared-memory copy that `postXferReq` makes itself (it then answers `DONE`); a larger one is handed to the I/O thread, which splits it across `copy_threads` (measured here: 4 MiB copies were 3-4x faster inline than handed over, 16 MiB ones about even).',
    parse: integer(0, 2 ** 40),
  },
  shm_unmap_timeout_ms: {
    field: 'shmUnmapTimeoutMs',
    default: '1000',
    doc: '`deregisterMem` of a region that same-host peers mapped (or may pull from) waits this long for each to give it up; a peer that did not is dropped (its connections close) and, for a mapping, this process keeps a private copy of the memory instead of the shared one.',
    parse: integer(1, 600_000),
  },
  timeout_ms: {
    field: 'timeoutMs',
    default: '10000',
    doc: 'a peer with transfers in flight that makes no progress (no byte sent or received) for this long is failed (`RemoteDisconnectError`, message says "timed out").',
    parse: integer(100, 3_600_000),
  },
  connect_timeout_ms: {
    field: 'connectTimeoutMs',
    default: '5000',
    doc: 'bound on connecting plus the handshake, both directions.',
    parse: integer(100, 3_600_000),
  },
  busy_poll_us: {
    field: 'busyPollUs',
    default: '0',
    doc: "latency at the cost of spinning: a posting thread that sent a request itself (see Posting) reads the answer for up to this many µs before `postXferReq` returns (which then answers `DONE`); an answer that comes later is read by the caller's `getXferStatus`. The I/O thread polls this long after serving a peer's request before it sleeps in epoll. Each spinning thread yields its CPU (`sched_yield`) once per 5 µs of looks that found nothing (see Busy polling).",
    parse: integer(0, 1_000_000),
  },
  linger_us: {
    field: 'lingerUs',
    default: '20',
    doc: "after the I/O thread completes a transfer and nothing else is in flight to that peer, it waits up to this many µs (spinning) for the caller's next post and sends it itself, instead of the caller's thread (see Lingering: on 2 vCPUs the two I/O threads then share one CPU instead of a cross-CPU wake-up per transfer). A linger that sees no post backs off (skips up to 64 chances). `0`: never; not with `busy_poll_us`.",
    parse: integer(0, 1_000),
  },
  poll_progress: {
    field: 'pollProgress',
    default: 'auto',
    doc: "`on`: `getXferStatus` of a small transfer in flight reads its answer on the calling thread when it is there (see Polling), and a caller seen polling is left its next answer; `off`: the I/O thread alone reads answers, a status read only reads the status slot (measured faster when the threads have a CPU each, see Polling); `auto`: for socket transfers of 16 KiB or less, `on` while the engine's threads share the polling caller's CPU (16 of its `sched_yield`s in a row let another thread run, or 16 answers in a row were read by the I/O thread on the caller's CPU), `off` once neither holds; see Polling on a shared CPU (measured on 2 vCPUs: both processes pinned to one CPU, 4 KiB transfers took 27 µs `off` and 20 µs `on`; with a CPU each, 20 µs `off` and 24 µs `on`); and, whatever the regime, a polled socket WRITE of one descriptor up to `inline_write_max_bytes` has its answer (an ACK) read by its caller as with `on` (WRITE 4 KiB 29.4 → 27.7 µs, faster in 6 of 6 interleaved pairs, bench/cli/results/2026-12-socket-write-polled/), and so has a polled socket READ of 32 KiB or less (READ 4 KiB 44.3 → 34.0 µs, faster in 7 of 8 interleaved pairs on a loaded machine, bench/cli/results/2026-12-socket-read-4k/; READ 32 KiB 44.5 → 37.0 µs, faster in 6 of 8, bench/cli/results/2026-12-socket-read-32k/).",
    parse: oneOf('auto', 'on', 'off'),
  },
  poll_send: {
    field: 'pollSend',
    default: 'off',
    doc: "`on`: a socket WRITE of `poll_send_min_bytes` or more (without `busy_poll_us`) is sent by the caller's own thread: `postXferReq` sends what the socket takes of it (4 MiB at most) onto an idle connection, and each `getXferStatus` while it is in flight sends the next share and reads its answer (see Posting); a caller that does not poll leaves the rest to the I/O thread. Measured 1.1–1.9× faster at 4–16 MiB on this 2-vCPU VM with BBR-paced loopback connections (bench/cli/results/2026-12-poll-send-ab.md); with reno on loopback (`tcp_congestion`), 2 MiB WRITEs were faster sent by the I/O thread and 4–16 MiB even (bench/cli/results/2026-12-socket-cliff/), hence the 4 MiB threshold; later, with reno, 4–8 MiB WRITEs sent by the I/O thread ran 1.15–4.2× as fast as polled sends in 13 of 14 interleaved pairs (bench/cli/results/2026-12-socket-write-large/), hence off by default. `off`: such a WRITE is handed to the I/O thread and only `poll_progress` makes status reads do I/O.",
    parse: onOff('on', 'off'),
  },
  poll_send_min_bytes: {
    field: 'pollSendMinBytes',
    default: String(4 * 1024 * 1024),
    doc: 'smallest socket WRITE (total bytes) that `poll_send` sends from the polling caller.',
    parse: integer(1, 2 ** 40),
  },
  poll_park_us: {
    field: 'pollParkUs',
    default: '200',
    doc: 'a caller that polls a socket transfer (not a same-host one) of `poll_park_min_bytes` or more (without `poll_progress`, `poll_send` or `busy_poll_us`) sleeps in every 64th `getXferStatus` of it until the engine settles a transfer or this many µs passed, instead of spinning (see Polling: on 2 vCPUs the spinning caller took a whole CPU from the two I/O threads that copy the payload). `0`: never; a status read then yields its CPU (`sched_yield`) instead.',
    parse: integer(0, 100_000),
  },
  poll_park_min_bytes: {
    field: 'pollParkMinBytes',
    default: String(8 * 1024 * 1024),
    doc: "smallest transfer (total bytes) whose polling caller parks (`poll_park_us`). Below 8 MiB parking was slower on this VM (the parked caller's wake-up costs more than the CPU it frees, bench/cli/results/2026-12-socket-read-large/).",
    parse: integer(1, 2 ** 40),
  },
  inline_write_max_bytes: {
    field: 'inlineWriteMaxBytes',
    default: String(64 * 1024),
    doc: "largest socket WRITE (total bytes) that `postXferReq` sends on the caller's thread when the connection is idle and the I/O thread is not busy: what the socket takes now, the I/O thread sends the rest. Larger ones are handed to the I/O thread (or to `poll_send`).",
    parse: integer(0, 2 ** 40),
  },
  slots: {
    field: 'slots',
    default: '65536',
    doc: 'transfer handles this backend can have prepared at once: a status slot each (4 bytes, shared with JavaScript), allocated 1,024 at a time as needed.',
    parse: integer(16, 1 << 22),
  },
} as const;

/** The TCP backend's parameters, parsed (also the native engine's options, less its own). */
export type TcpParams = ParsedParams<typeof TCP_PARAM_TABLE>;

export const DEFAULT_PARAMS: Readonly<BackendParams> = paramDefaults(TCP_PARAM_TABLE);

/** The first non-internal address of the family, for a wildcard bind. */
function firstExternal(family: 'IPv4' | 'IPv6'): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === family && !a.internal) return a.address;
  }
  return undefined;
}

export function parseParams(p: BackendParams): TcpParams {
  const parsed = parseParamTable(TCP_PARAM_TABLE, p, 'TCP');
  if (parsed.advertiseAddr === '') {
    const bind = parsed.bindAddr;
    parsed.advertiseAddr =
      bind === '0.0.0.0'
        ? (firstExternal('IPv4') ?? '127.0.0.1')
        : bind === '::'
          ? (firstExternal('IPv6') ?? '::1')
          : bind;
  }
  return parsed;
}
