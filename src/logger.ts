/**
 * A tiny namespaced logger. Enabled per namespace through NIXL_TS_LOG
 * (comma-separated prefixes, `*` for all) or NIXL_LOG_LEVEL=debug.
 */
export interface Logger {
  (fmt: string, ...args: unknown[]): void;
  readonly enabled: boolean;
  readonly namespace: string;
  error(fmt: string, ...args: unknown[]): void;
  extend(sub: string): Logger;
}

function isEnabled(namespace: string): boolean {
  if ((process.env.NIXL_LOG_LEVEL ?? '').toLowerCase() === 'debug') return true;
  const spec = process.env.NIXL_TS_LOG ?? '';
  if (!spec) return false;
  return spec.split(',').some((p) => p.trim() === '*' || namespace.startsWith(p.trim()));
}

export function createLogger(namespace: string): Logger {
  const enabled = isEnabled(namespace);
  const log = ((fmt: string, ...args: unknown[]) => {
    if (enabled) console.error(`${namespace} ${fmt}`, ...args);
  }) as Logger;
  Object.defineProperties(log, {
    enabled: { value: enabled },
    namespace: { value: namespace },
  });
  log.error = (fmt: string, ...args: unknown[]) =>
    console.error(`${namespace} error: ${fmt}`, ...args);
  log.extend = (sub: string) => createLogger(`${namespace}:${sub}`);
  return log;
}
