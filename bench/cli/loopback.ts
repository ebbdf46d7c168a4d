/** True for a host name or address that stays on this machine. */
export function isLoopback(host: string): boolean {
  return host === '::1' || host === 'localhost' || host.startsWith('127.');
}

/**
 * Between two processes on one host the benchmark stays on loopback: a backend
 * with a `devices` parameter (UCX) would otherwise also use the machine's other
 * interfaces and their addresses. An explicit `devices` is kept.
 */
export function withLoopbackDevices(
  defaults: Record<string, string>,
  params: Record<string, string>,
  loopback: boolean,
): Record<string, string> {
  if (!loopback || !('devices' in defaults) || params.devices !== undefined) return params;
  return { ...params, devices: 'lo' };
}
