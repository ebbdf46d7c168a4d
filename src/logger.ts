import { format } from 'node:util';

/**
 * The library's one logging facility. Levels are NIXL's (NIXL_LOG_LEVEL:
 * ERROR, WARN, INFO, DEBUG, TRACE; case-insensitive; FATAL reads as ERROR).
 * The default is WARN, as NIXL's release builds (nixl_log.cpp
 * kDefaultLogLevel). `DEBUG=nixl:*` (Node's usual namespaced switch, comma
 * separated prefixes ending in `*`, or exact names) turns on every level for
 * the matching namespaces. NIXL_TS_LOG is a deprecated alias of DEBUG.
 * Without a user sink (Agent.create's `logger`), lines go to stderr.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

const LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];
const DEFAULT_LEVEL = 1; // WARN

/** What a user can pass as Agent.create's `logger` (console, pino, winston all fit). */
export interface LogSink {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  trace(msg: string): void;
}

type LogFn = (fmt: string, ...args: unknown[]) => void;

export interface Logger {
  /** Logs at DEBUG (the call sites' historical meaning). */
  (fmt: string, ...args: unknown[]): void;
  /** True when DEBUG lines of this namespace are written (guard costly arguments with it). */
  readonly enabled: boolean;
  readonly namespace: string;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** True when lines of this level are written. */
  enabledFor(level: LogLevel): boolean;
  /** A child logger `namespace:sub`, with the same sink. */
  extend(sub: string): Logger;
}

/** The level index NIXL_LOG_LEVEL names, or the default (an unknown value is ignored). */
export function envLogLevel(): number {
  const v = (process.env.NIXL_LOG_LEVEL ?? '').trim().toLowerCase();
  if (v === 'fatal') return 0;
  if (v === 'warning') return 1;
  const i = LEVELS.indexOf(v as LogLevel);
  return i >= 0 ? i : DEFAULT_LEVEL;
}

/** True when DEBUG (or the deprecated NIXL_TS_LOG) names this namespace. */
function debugSwitch(namespace: string): boolean {
  const spec = [process.env.DEBUG, process.env.NIXL_TS_LOG].filter(Boolean).join(',');
  if (!spec) return false;
  return spec
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((p) =>
      p === '*' || p.endsWith('*') ? namespace.startsWith(p.slice(0, -1)) : namespace === p,
    );
}

const stderrSink: LogSink = Object.fromEntries(
  LEVELS.map((l) => [l, (msg: string) => process.stderr.write(`${msg}\n`)]),
) as unknown as LogSink;

/**
 * A logger for a namespace. With a user sink every level is handed over (the
 * sink filters, as pino and winston do) unless NIXL_LOG_LEVEL is set; without
 * one, lines at or above the level (or all, under DEBUG=) go to stderr.
 */
export function createLogger(namespace: string, sink?: LogSink): Logger {
  const userSink = sink !== undefined && process.env.NIXL_LOG_LEVEL === undefined;
  const max = debugSwitch(namespace) || userSink ? LEVELS.length - 1 : envLogLevel();
  const out = sink ?? stderrSink;
  const at = (i: number): LogFn => {
    if (i > max) return () => {};
    const level = LEVELS[i]!;
    const tag = i <= 1 ? ` ${level}:` : '';
    return (fmt, ...args) => out[level](`${namespace}${tag} ${format(fmt, ...args)}`);
  };
  const debug = at(3);
  const log = ((fmt: string, ...args: unknown[]) => debug(fmt, ...args)) as Logger;
  Object.defineProperties(log, {
    enabled: { value: max >= 3 },
    namespace: { value: namespace },
  });
  log.error = at(0);
  log.warn = at(1);
  log.info = at(2);
  log.debug = debug;
  log.trace = at(4);
  log.enabledFor = (level) => LEVELS.indexOf(level) <= max;
  log.extend = (sub: string) => createLogger(`${namespace}:${sub}`, sink);
  return log;
}

/** Checks a user-supplied sink: every level a function. */
export function isLogSink(value: unknown): value is LogSink {
  return (
    typeof value === 'object' &&
    value !== null &&
    LEVELS.every((l) => typeof (value as Record<string, unknown>)[l] === 'function')
  );
}
