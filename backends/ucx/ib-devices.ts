/** InfiniBand / RoCE devices the kernel exposes (what UCX's verbs transports use). */
import { readdirSync } from 'node:fs';

const SYSFS = '/sys/class/infiniband';

export function ibDevices(): string[] {
  try {
    return readdirSync(SYSFS).sort();
  } catch {
    return [];
  }
}

/** Verbs-based UCX transport names (and aliases) that need such a device. */
const VERBS = /^(rc|dc|ud|ib|rc_verbs|rc_mlx5|dc_mlx5|ud_verbs|ud_mlx5|rc_x|dc_x|ud_x)$/;

export function needsIb(transports: string): boolean {
  return transports.split(',').some((t) => VERBS.test(t.trim()));
}

export function noIbMessage(): string {
  return `the verbs transports (rc, dc, ud) need an InfiniBand or RoCE device, and ${SYSFS} lists none`;
}
