/**
 * The rounds of the notification-at-DONE tests (tcp-notif-done, ucx-notif-done):
 * WRITE and READ of every size, one descriptor and a batch of three, polled
 * (getXferStatus in a loop) and awaited, each with a notification. At DONE the
 * target process is asked for its notifications and the hash of the range: the
 * notification must be there already, and the bytes must be the initiator's.
 */
import { randomFillSync } from 'node:crypto';

import { expect } from 'vitest';

import type { Agent } from '../../src/agent.js';
import type { XferRequest } from '../../src/xfer-request.js';
import { sha256 } from '../../testing/pattern.js';
import type { TcpPeer } from './tcp-peer-process.js';

const MiB = 1024 * 1024;

/** An initiator in this process, its registered buffer, and the target process. */
export interface NotifPair {
  a: Agent;
  local: Buffer;
  localBase: bigint;
  peer: TcpPeer;
}

/** `size` bytes at `off` on both sides, as up to `pieces` descriptors. */
export function split(
  off: number,
  size: number,
  pieces: number,
  localBase: bigint,
  remoteBase: bigint,
) {
  const locals: { addr: bigint; len: number }[] = [];
  const remotes: { addr: bigint; len: number }[] = [];
  const piece = Math.ceil(size / pieces);
  for (let at = 0; at < size; at += piece) {
    const len = Math.min(piece, size - at);
    locals.push({ addr: localBase + BigInt(off + at), len });
    remotes.push({ addr: remoteBase + BigInt(off + at), len });
  }
  return { locals, remotes };
}

/**
 * Runs `rounds` transfers (fewer if `limitMs` runs out) in `region` bytes on
 * both sides, and returns the notifications that were not at the target at
 * DONE (each then waited for, so that a lost one fails here).
 */
export async function notifRoundsAtDone(
  { a, local, localBase, peer }: NotifPair,
  opts: { region: number; sizes: readonly number[]; rounds: number; limitMs: number },
): Promise<string[]> {
  const { sizes } = opts;
  const until = Date.now() + opts.limitMs;
  // Room for the largest transfer past any start offset, plus the unaligned start.
  const span = opts.region - (Math.max(...sizes) + MiB);
  const late: string[] = [];
  for (let i = 0; i < opts.rounds && Date.now() < until; i++) {
    const size = sizes[i % sizes.length]!;
    const op = Math.floor(i / sizes.length) % 2 === 0 ? 'WRITE' : 'READ';
    const pieces = Math.floor(i / (2 * sizes.length)) % 2 === 0 ? 1 : 3;
    const polled = Math.floor(i / (4 * sizes.length)) % 2 === 0;
    // Both ranges move around (and start unaligned) from one round to the next.
    const off = ((i * 7919) % span) + (i % 3);
    const { locals, remotes } = split(off, size, pieces, localBase, peer.addr);
    if (op === 'WRITE') randomFillSync(local, off, size);
    else await peer.send({ cmd: 'fill', off, len: size, seed: i + 1 });
    const notif = `done-${i}-${op}-${size}x${pieces}`;

    if (polled) {
      const req: XferRequest = a.createXferReq(op, locals, remotes, peer.name);
      a.postXferReq(req, { notif });
      while (a.getXferStatus(req) !== 'DONE') {
        if (Date.now() > until) throw new Error(`${notif}: not DONE in time`);
      }
      a.releaseXferReq(req);
    } else if (op === 'WRITE') {
      await a.write(locals, remotes, peer.name, { notif });
    } else {
      await a.read(locals, remotes, peer.name, { notif });
    }
    const seen = await peer.send({ cmd: 'takeNotifs', off, len: size });
    if (seen.list.length === 0) {
      // Not there at DONE: note it, and take it once it comes, so the next
      // round starts clean (a lost one fails the wait).
      late.push(`${notif} (${polled ? 'polled' : 'awaited'})`);
      await expect
        .poll(async () => (await peer.send({ cmd: 'takeNotifs', off: 0, len: 0 })).list, {
          timeout: 10_000,
        })
        .toEqual([[a.name, notif]]);
    } else {
      expect(seen.list).toEqual([[a.name, notif]]);
    }
    expect(seen.hash, notif).toBe(sha256(local.subarray(off, off + size)));
  }
  return late;
}
