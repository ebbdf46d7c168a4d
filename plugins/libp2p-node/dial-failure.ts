/**
 * What a failed dial says about the other end. libp2p reports a failure in
 * three shapes: the socket's error itself; the connection's abort event
 * carrying it in `.error` (a reset that came after the TCP connect, while
 * the private network's nonce was written or read); or an AggregateError
 * over the addresses of a peer it tried (`.errors`), each in either shape.
 */

interface DialCause {
  code?: string;
  message?: string;
}

/** The socket-level causes inside a dial's error, whatever its shape. */
function causesOf(err: unknown): DialCause[] {
  const e = err as { errors?: unknown[]; error?: unknown; message?: string } | undefined;
  if (Array.isArray(e?.errors) && e.errors.length) return e.errors.flatMap(causesOf);
  if (e?.error !== undefined && !e.message) return causesOf(e.error);
  return e ? [e as DialCause] : [];
}

function isReset(c: DialCause): boolean {
  return c.code === 'ECONNRESET' || /ECONNRESET|EPIPE|Unexpected EOF/.test(c.message ?? '');
}

function isRefused(c: DialCause): boolean {
  return c.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(c.message ?? '');
}

/**
 * The other end's process accepted the connection and reset it at once, as
 * a node at its connection bound does (see refuse-at-accept.ts), at one of
 * the addresses tried. A dead process's port refuses the connect instead,
 * and a frozen one's times out.
 */
export function resetAfterConnect(err: unknown): boolean {
  return causesOf(err).some(isReset);
}

/** Every address refused the connect (ECONNREFUSED): no process listens there. */
export function refusedEverywhere(err: unknown): boolean {
  const causes = causesOf(err);
  return causes.length > 0 && causes.every(isRefused);
}
