import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

import { decodeConnInfo } from '../../backends/tcp/conn-info.js';
import { PROFILES } from '../../backends/ucx/params.js';
import { decodeMetadata } from '../../src/metadata.js';

/**
 * Which way a cell's bytes went, as the kernel shows it rather than as the
 * parameters asked. TCP: this process's connections to the target's engine are
 * TCP connections to its data port ('socket') or connections to its abstract
 * Unix socket ('same-host': process_vm_readv copies from 16 KiB up, frames over
 * that Unix socket below, native/tcp/FRAMES.md). Linux only (/proc); elsewhere
 * 'unknown'.
 */
export type ObservedPath = 'socket' | 'same-host' | 'socket+same-host' | 'unknown';

/** The target's TCP data port and Unix socket name, from its metadata. */
export function tcpEndpoints(md: Uint8Array): { port: number; unixName: string } {
  const meta = decodeMetadata(md);
  const conn = meta.conns.find((c) => c.backend === 'TCP');
  if (!conn) throw new Error(`agent '${meta.name}' has no TCP connection info`);
  const ci = decodeConnInfo(conn.connInfo, meta.name);
  return { port: ci.port, unixName: ci.unixName };
}

function lines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(1);
  } catch {
    return [];
  }
}

/** Inodes of the sockets this process holds. */
export function ownSockets(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** This process's established TCP connections to `port` (IPv4 and IPv6). */
function tcpConnectionsTo(port: number, own: Set<string>): number {
  let n = 0;
  for (const l of [...lines('/proc/self/net/tcp'), ...lines('/proc/self/net/tcp6')]) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    const f = l.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01') continue;
    const remPort = parseInt(f[2]!.split(':')[1]!, 16);
    if (remPort === port && own.has(f[9]!)) n++;
  }
  return n;
}

/**
 * Connected sockets of the network namespace bound to the abstract name: the
 * target's accepted Unix connections (the listener is not connected).
 */
function unixConnectionsNamed(name: string): number {
  if (!name) return 0;
  let n = 0;
  for (const l of lines('/proc/self/net/unix')) {
    // Num RefCount Protocol Flags Type St Inode Path; St 03 = connected.
    const f = l.trim().split(/\s+/);
    if (f.length < 8 || f[5] !== '03') continue;
    // An abstract name shows as '@name', NUL padding as further '@'.
    if (f[7]!.replace(/@+$/, '') === `@${name}`) n++;
  }
  return n;
}

/** The path this process's TCP engine reaches the target by (call once connected). */
export function observeTcpPath(target: { port: number; unixName: string }): ObservedPath {
  if (process.platform !== 'linux') return 'unknown';
  const tcp = tcpConnectionsTo(target.port, ownSockets());
  const unix = unixConnectionsNamed(target.unixName);
  if (tcp > 0 && unix > 0) return 'socket+same-host';
  if (tcp > 0) return 'socket';
  if (unix > 0) return 'same-host';
  return 'unknown';
}

/**
 * A UCX cell's path is the transports it was given (UCX picks among them per
 * peer and does not say which): 'UCX tcp', 'UCX posix,sysv,cma,tcp', or
 * 'UCX default' when none were named.
 */
export function ucxPath(params: Readonly<Record<string, string>>): string {
  const profiles: Readonly<Record<string, string>> = PROFILES;
  const tls = params.transports || params.ucx_tls || profiles[params.profile ?? ''] || 'default';
  return `UCX ${tls}`;
}
