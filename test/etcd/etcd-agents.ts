/**
 * Agent processes with the etcd plugin (fixtures/etcd-agent.ts), as
 * AgentProcess children: events named by `ev`, kept for waits, stopped by
 * PID if they do not close. Also the SHA-256 of testing/pattern.ts's bytes,
 * which the agents report for what they read.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import type { EtcdOptions } from '../../plugins/etcd/index.js';
import { fillPattern } from '../../testing/pattern.js';
import { AgentProcess } from '../integration/agent-process.js';

const FIXTURE = fileURLToPath(new URL('../integration/fixtures/etcd-agent.ts', import.meta.url));

export function spawnEtcdAgent(
  name: string,
  etcd: EtcdOptions,
  env: NodeJS.ProcessEnv = {},
): AgentProcess {
  return new AgentProcess(name, { name, etcd }, env, undefined, FIXTURE);
}

/** SHA-256 (hex) of `len` bytes of the pattern of `seed`. */
export function patternSha256(len: number, seed: number): string {
  const b = new Uint8Array(len);
  fillPattern(b, seed);
  return createHash('sha256').update(b).digest('hex');
}

/** Resolves once agent process `p` has loaded `peer` (a join, or `peer` among those ready at start). */
export function joined(p: AgentProcess, peer: string) {
  return p.waitFor(
    (e) =>
      (e.ev === 'peer:join' && e.peer === peer) ||
      (e.ev === 'ready' && (e.peers as string[]).includes(peer)),
    `${peer} to be loaded`,
  );
}
