/**
 * Length-prefix decoders for libp2p's `LengthPrefixedDecoder` and
 * `lpStream`, which ask a decoder to throw a `RangeError` when the bytes end
 * before the length does, and catch it as "wait for more". The stock
 * decoders build a new `RangeError` (with its stack trace) each time, and
 * that happens on every read: noise's decoder runs out of bytes at the end of
 * each socket chunk, and `lpStream` reads a mesh frame's 2-byte varint one
 * byte at a time. In a cluster start's profiles those throws were 2.6 % of
 * the samples; here one preallocated error is thrown instead. The values
 * decoded are the same (the tests compare them with the stock decoders).
 */
import type { Uint8ArrayList } from 'uint8arraylist';

/** Thrown when the length prefix is not complete yet (one instance: no stack trace per throw). */
const NEED_MORE_BYTES = new RangeError('length prefix incomplete');

/** A 16-bit big-endian length (noise's transport messages). */
export function uint16BELength(data: Uint8Array | Uint8ArrayList): number {
  if (data.byteLength < 2) throw NEED_MORE_BYTES;
  if (data instanceof Uint8Array) return (data[0]! << 8) | data[1]!;
  return data.getUint16(0);
}
uint16BELength.bytes = 2;

/**
 * An unsigned LEB128 varint of up to 8 bytes, as `uint8-varint` reads it
 * (lpStream's default). Past 8 bytes without an end the stock decoder keeps
 * asking for more (a peer could feed it continuation bytes forever); this one
 * throws an error that is not a `RangeError`, which ends the stream.
 */
export function varintLength(data: Uint8Array | Uint8ArrayList): number {
  const n = Math.min(data.byteLength, 8);
  const at = data instanceof Uint8Array ? (i: number) => data[i]! : (i: number) => data.get(i);
  let value = 0;
  let scale = 1;
  for (let i = 0; i < n; i++) {
    const b = at(i);
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
  if (n < 8) throw NEED_MORE_BYTES;
  throw new Error('length prefix too long (a varint of more than 8 bytes)');
}

/**
 * noise's encrypted stream reads its messages with a `LengthPrefixedDecoder`
 * (its `decoder` field) that it builds with a throwing decoder and no option
 * to pass another; the field is swapped here, and counted in `quietDecoders`
 * (a test checks it happens, so an upgrade that renames the field is noticed).
 */
export function withQuietDecoder<T extends { connection: unknown }>(secured: T): T {
  const decoder = (secured.connection as { decoder?: { lengthDecoder?: unknown } }).decoder;
  if (decoder && typeof decoder.lengthDecoder === 'function') {
    decoder.lengthDecoder = uint16BELength;
    quietDecoders.installed++;
  }
  return secured;
}
/** How many secured connections got the quiet decoder (for tests). */
export const quietDecoders = { installed: 0 };
