import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function linkOr(path: string, fallback: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return fallback;
  }
}

let cached: string | undefined;

/**
 * Identifies "the same host" for same-host fast paths: equal values mean the
 * peers share a kernel boot and a PID namespace, so one process can address
 * the other's memory (process_vm_readv) given the permission.
 */
export function hostIdentity(): string {
  cached ??= [
    readOr('/etc/machine-id', hostname()),
    readOr('/proc/sys/kernel/random/boot_id', 'no-boot-id'),
    linkOr('/proc/self/ns/pid', 'no-pidns'),
  ].join('/');
  return cached;
}
