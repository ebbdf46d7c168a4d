/**
 * A libp2p component logger that writes nothing and costs nothing to make.
 *
 * libp2p makes loggers per connection, per stream and per handshake step
 * (`newScope`), and `@libp2p/logger` builds each from `debug` instances
 * (with a terminal check for colours each time) even when nothing is
 * enabled: several percent of a control connection's CPU. Used only while
 * DEBUG is unset; with DEBUG set, libp2p's own logger (which reads it) runs.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface';

const noop = () => {};
const silent: Logger = Object.assign(() => {}, {
  enabled: false,
  error: noop,
  trace: noop,
  newScope: () => silent,
});

export const silentLogger: ComponentLogger = { forComponent: () => silent };

/** The logger option for createLibp2p: silent unless DEBUG asks for logs. */
export function libp2pLoggerOption(): { logger?: ComponentLogger } {
  return process.env.DEBUG ? {} : { logger: silentLogger };
}
