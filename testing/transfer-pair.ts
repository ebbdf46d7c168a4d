import type { Agent } from '../src/agent.js';
import type { MemType } from '../src/descriptors.js';

/** How many bytes of the target region a notification's arrival hash covers. */
export const NOTIF_WINDOW = 1024 * 1024;

/**
 * An initiator agent and a target it can transfer to: the same agent
 * (loopback), another agent in this process, or one in a child process.
 */
export interface TransferPair {
  a: Agent;
  /** The target agent's name. */
  target: string;
  /** The initiator's registered region (64 MiB) and its address. */
  local: Buffer;
  localBase: bigint;
  /** The target's registered region (64 MiB) address, in the target's address space. */
  remoteBase: bigint;
  /** The target region's devId (0 for DRAM) and memory type (DRAM when absent). */
  remoteDevId?: number;
  remoteMemType?: MemType;
  fillTarget(off: number, len: number, seed: number): Promise<void>;
  hashTarget(off: number, len: number): Promise<string>;
  /** Waits for a notification with this text; reports its sender and the target's first NOTIF_WINDOW bytes' hash at arrival. */
  waitNotif(msg: string): Promise<{ from: string; hashAtArrival: string }>;
  close(): Promise<void>;
}
