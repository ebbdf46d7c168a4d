/**
 * The control messages of staged writes into a peer's VRAM, carried as
 * notifications (backends/tcp/vram-landing.ts). A message is a fixed magic
 * followed by JSON; anything else is an ordinary notification. Decoding is
 * bounded and strict: a malformed message is dropped, never acted on.
 *
 *   push  initiator → target: chunk `k` of transfer `x` waits in the
 *         initiator's staging at `src` (registered DRAM): read `len` bytes
 *         into exposed region `region` at `off`.
 *   ack   target → initiator: chunk `k` of `x` is in device memory (or `err`).
 *   done  initiator → target: every chunk of `x` was acknowledged; deliver
 *         `notif` (base64) to the application.
 */
const MAGIC = Buffer.from('\u0000nixl-vram/1\u0000');
const MAX_BYTES = 64 * 1024;

export type ControlMsg =
  | { t: 'push'; x: string; k: number; src: string; off: number; len: number; region: number }
  | { t: 'ack'; x: string; k: number; err?: string }
  | { t: 'done'; x: string; n: number; notif?: string };

export function encodeControl(m: ControlMsg): Uint8Array {
  return Buffer.concat([MAGIC, Buffer.from(JSON.stringify(m))]);
}

export function isControl(msg: Uint8Array): boolean {
  return (
    msg.byteLength >= MAGIC.length &&
    Buffer.from(msg.buffer, msg.byteOffset, MAGIC.length).equals(MAGIC)
  );
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isId = (v: unknown): v is string => typeof v === 'string' && /^[\w-]{1,64}$/.test(v);

/** The message, or undefined when it is not a well-formed control message. */
export function decodeControl(msg: Uint8Array): ControlMsg | undefined {
  if (!isControl(msg) || msg.byteLength > MAX_BYTES) return undefined;
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(Buffer.from(msg).subarray(MAGIC.length).toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return undefined;
  }
  if (!m || typeof m !== 'object' || !isId(m['x'])) return undefined;
  switch (m['t']) {
    case 'push':
      return isCount(m['k']) &&
        typeof m['src'] === 'string' &&
        /^\d{1,20}$/.test(m['src']) &&
        isCount(m['off']) &&
        isCount(m['len']) &&
        (m['len'] as number) > 0 &&
        isCount(m['region'])
        ? (m as ControlMsg)
        : undefined;
    case 'ack':
      return isCount(m['k']) && (m['err'] === undefined || typeof m['err'] === 'string')
        ? (m as ControlMsg)
        : undefined;
    case 'done':
      return isCount(m['n']) && (m['notif'] === undefined || typeof m['notif'] === 'string')
        ? (m as ControlMsg)
        : undefined;
    default:
      return undefined;
  }
}
