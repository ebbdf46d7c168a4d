import { DescList, RegDescList, isMemType, type MemType } from './descriptors.js';
import { InvalidParamError } from './errors.js';
import { native } from './native.js';

/** Memory owned elsewhere, given by address (NIXL's blob descriptor). */
export interface RawRegion {
  addr: bigint | number;
  len: number;
  devId?: number;
  metaInfo?: Uint8Array;
}

type BufferLike = ArrayBuffer | SharedArrayBuffer | ArrayBufferView;

/** Everything registerMem accepts. */
export type MemoryInput = DescList | BufferLike | RawRegion | ReadonlyArray<BufferLike | RawRegion>;

function isBufferLike(v: unknown): v is BufferLike {
  return v instanceof ArrayBuffer || v instanceof SharedArrayBuffer || ArrayBuffer.isView(v);
}

/** A Uint8Array over exactly the bytes of a buffer-like value (no copy). */
export function bytesOf(v: BufferLike): Uint8Array {
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(v);
}

/**
 * Turns registerMem's input into a registration list. Buffers are taken by
 * reference: each entry keeps a view of the bytes, which holds them alive for
 * as long as the registration exists. Raw DRAM regions get a view over their
 * address so that pure-TypeScript backends can reach them too.
 */
export function toRegDescList(input: MemoryInput, memType: MemType = 'DRAM'): RegDescList {
  if (!isMemType(memType)) throw new InvalidParamError(`unknown memory type '${String(memType)}'`);
  if (input instanceof RegDescList) return input;
  if (input instanceof DescList) {
    const list = new RegDescList(input.memType, input.length);
    for (let i = 0; i < input.length; i++) {
      list.addRegion(
        input.addrs[i]!,
        input.lens[i]!,
        input.devIds[i]!,
        undefined,
        rawView(input.memType, input.addrs[i]!, input.lens[i]!),
      );
    }
    return list;
  }
  const items = Array.isArray(input) ? input : [input];
  if (items.length === 0) throw new InvalidParamError('registerMem: nothing to register');
  const list = new RegDescList(memType, items.length);
  for (const item of items) {
    if (isBufferLike(item)) {
      if (memType !== 'DRAM')
        throw new InvalidParamError(`a JavaScript buffer is DRAM, not ${memType}`);
      const bytes = bytesOf(item);
      list.addRegion(native().addressOf(bytes), bytes.byteLength, 0, undefined, bytes);
    } else if (item && typeof item === 'object' && 'addr' in item && 'len' in item) {
      const raw = item as RawRegion;
      list.addRegion(raw.addr, raw.len, raw.devId ?? 0, raw.metaInfo, undefined);
      const i = list.length - 1;
      list.views[i] = rawView(memType, list.addrs[i]!, list.lens[i]!);
    } else {
      throw new InvalidParamError(
        'registerMem: expected an ArrayBuffer, SharedArrayBuffer, typed array, Buffer, {addr, len, devId} or a descriptor list',
      );
    }
  }
  return list;
}

function rawView(memType: MemType, addr: number, len: number): Uint8Array | undefined {
  if (memType !== 'DRAM') return undefined;
  if (len === 0) return new Uint8Array(0);
  return new Uint8Array(native().viewOf(addr, len));
}
