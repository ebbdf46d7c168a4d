// tcp_congestion: which TCP congestion control the engine's connections use
// (reno on loopback by default, since the system's BBR paces large loopback
// transfers to about half), read back from the kernel with `ss`; transfers of
// 64 KiB to 8 MiB both ways under each setting, every one checked by hash
// against an agent in another process; a target killed in the middle of
// large READs fails them in bounded time.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { InvalidParamError } from '../../src/errors.js';
import {
  expectFailsOnceKilled,
  pollRoundTripsByHash,
  pollUntilDone,
  requestAt,
  type TcpPair,
  TcpPairs,
} from './tcp-pair.js';

const REGION = 16 << 20;
const SIZES = [64 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20];
const TIMEOUT_MS = 2000;
const SYSTEM_CC = readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
const HAS_SS = spawnSync('ss', ['-V'], { stdio: 'ignore' }).status === 0;

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

function pair(params: Record<string, string>): Promise<TcpPair> {
  return pairs.start({
    name: 'sender',
    regionBytes: REGION,
    params: { port: '0', same_host: 'off', timeout_ms: String(TIMEOUT_MS), ...params },
  });
}

interface TcpSocket {
  local: string;
  peer: string;
  pid: number | undefined;
  cc: string;
}

/** Established TCP sockets as the kernel reports them (`ss -tinpH`), with their congestion control. */
function tcpSockets(): TcpSocket[] {
  const out = spawnSync('ss', ['-tinpH', 'state', 'established'], { encoding: 'utf8' }).stdout;
  const sockets: TcpSocket[] = [];
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      // Recv-Q Send-Q Local Peer [users:(("node",pid=N,fd=M))] (no State column with a state filter)
      const f = line.trim().split(/\s+/);
      const pid = /pid=(\d+)/.exec(line)?.[1];
      sockets.push({ local: f[2]!, peer: f[3]!, pid: pid ? Number(pid) : undefined, cc: '' });
    } else if (sockets.length > 0 && sockets.at(-1)!.cc === '') {
      sockets.at(-1)!.cc = line.trim().split(/\s+/)[0]!;
    }
  }
  return sockets;
}

/** The congestion control of each data connection between this process and the target, both ends. */
function dataConnections(p: TcpPair): string[] {
  const all = tcpSockets();
  const target = all.filter((s) => s.pid === p.peer.pid);
  const ours = all.filter((s) => target.some((t) => t.peer === s.local && s.pid === process.pid));
  return [...target, ...ours].map((s) => s.cc);
}

/** After round trips over `p`, every data connection, seen from both ends, uses `cc`. */
async function expectDataConnectionsUse(p: TcpPair, cc: string, label?: string) {
  await pollRoundTripsByHash(p, SIZES);
  const ccs = dataConnections(p);
  // Two streams, each seen from both processes.
  expect(ccs.length, label).toBeGreaterThanOrEqual(4);
  expect(new Set(ccs), label).toEqual(new Set([cc]));
}

describe('TCP tcp_congestion', () => {
  it.skipIf(!HAS_SS)(
    'uses reno on loopback connections by default, both ends',
    async () => {
      await expectDataConnectionsUse(await pair({}), 'reno');
    },
    120_000,
  );

  it.skipIf(!HAS_SS)(
    'uses reno on IPv6 loopback connections (::1) by default',
    async () => {
      await expectDataConnectionsUse(await pair({ bind_addr: '::1' }), 'reno');
    },
    120_000,
  );

  it.skipIf(!HAS_SS)(
    `keeps the system default with 'system', and applies a named one (${SYSTEM_CC})`,
    async () => {
      for (const setting of ['system', SYSTEM_CC]) {
        await expectDataConnectionsUse(await pair({ tcp_congestion: setting }), SYSTEM_CC, setting);
        await pairs.closeAll();
      }
    },
    120_000,
  );

  it('a killed target fails 8 MiB READs in bounded time', async () => {
    const p = await pair({});
    const len = 8 << 20;
    const read = requestAt(p, 'READ', len, 0);
    for (let round = 0; round < 3; round++) pollUntilDone(p, read, performance.now() + 30_000);
    expectFailsOnceKilled(p, read, TIMEOUT_MS);
  }, 60_000);

  it('refuses a malformed or unknown algorithm with a typed error', async () => {
    for (const tcp_congestion of ['', 'BBR!', 'no-such-cc']) {
      await expect(
        Agent.create({ name: 'bad', backends: [{ type: 'TCP', params: { tcp_congestion } }] }),
        tcp_congestion,
      ).rejects.toBeInstanceOf(InvalidParamError);
    }
  });
});
