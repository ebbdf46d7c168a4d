/**
 * What copies between device memory and a host staging buffer for
 * VramStager. The CUDA engine uses the driver (native/cuda: a stream per
 * libuv pool thread, so several chunks copy at once); the host engine copies
 * host memory with memmove on a later turn of the event loop — the seam that
 * lets the staging order be tested across processes on machines without a
 * GPU, with "device" addresses that are host addresses.
 */
import { native } from '../../src/native.js';
import { cudaCall } from '../../src/vram.js';

export interface CopyEngine {
  readonly kind: 'cuda' | 'host';
  /** Device → host. */
  toHost(host: bigint, dev: bigint, len: number, devId: number): Promise<void>;
  /** Host → device. */
  toDevice(dev: bigint, host: bigint, len: number, devId: number): Promise<void>;
  /** Device → device (same device, or a peer's memory opened through IPC). */
  deviceToDevice(dst: bigint, src: bigint, len: number, devId: number): Promise<void>;
  /** Host memory for staging: pinned where the engine needs it. */
  allocHost(bytes: number): Buffer;
}

export function cudaCopyEngine(): CopyEngine {
  const ctx = { op: 'copy', backend: 'TCP' };
  return {
    kind: 'cuda',
    toHost: (host, dev, len, devId) => cudaCall(ctx, (c) => c.copy(host, dev, len, 'd2h', devId)),
    toDevice: (dev, host, len, devId) => cudaCall(ctx, (c) => c.copy(dev, host, len, 'h2d', devId)),
    deviceToDevice: (dst, src, len, devId) =>
      cudaCall(ctx, (c) => c.copy(dst, src, len, 'd2d', devId)),
    allocHost: (bytes) => cudaCall(ctx, (c) => c.hostAlloc(bytes)),
  };
}

/** Host memory standing in for device memory (tests, and `copyEngine: 'host'`). */
export function hostCopyEngine(): CopyEngine {
  const copy = (dst: bigint, src: bigint, len: number): Promise<void> =>
    new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          native().copy(dst, src, len);
          resolve();
        } catch (e) {
          reject(e as Error);
        }
      }),
    );
  return {
    kind: 'host',
    toHost: (host, dev, len) => copy(host, dev, len),
    toDevice: (dev, host, len) => copy(dev, host, len),
    deviceToDevice: (dst, src, len) => copy(dst, src, len),
    allocHost: (bytes) => native().alloc(bytes),
  };
}
