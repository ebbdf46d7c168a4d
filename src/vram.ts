/**
 * GPU memory (VRAM) through the CUDA driver, which native/cuda opens at run
 * time: whether this process can use VRAM and why not, device allocations,
 * and the check that a raw device pointer is what it claims to be. Nothing
 * here needs CUDA to build or to load; without a driver every VRAM operation
 * throws NotSupportedError carrying the reason, and DRAM works as before.
 */
import type { RegDescList } from './descriptors.js';
import {
  InvalidParamError,
  NixlError,
  NotSupportedError,
  statusToError,
  type ErrorContext,
} from './errors.js';
import { COMPILE_HINT, hasAddon, loadAddon } from './native.js';
import { Status } from './status.js';

export interface VramDevice {
  readonly devId: number;
  readonly name: string;
}

export interface VramSupport {
  readonly ok: boolean;
  /** Why VRAM is unsupported ('' when ok), e.g. "libcuda.so.1 not found ...", "no CUDA device". */
  readonly reason: string;
  /** The CUDA driver library opened or tried (NIXL_CUDA_LIBRARY overrides it). */
  readonly library: string;
  /** cuDriverGetVersion, e.g. 13000; 0 without a driver. */
  readonly driverVersion: number;
  readonly devices: readonly VramDevice[];
}

/** What native/cuda/binding.cc exports. Addresses are bigints. */
export interface CudaAddon {
  support(): VramSupport;
  pointerInfo(addr: bigint, len: number, devId: number): { base: bigint; size: number };
  memAlloc(bytes: number, devId: number): bigint;
  memFree(addr: bigint, devId: number): void;
  hostAlloc(bytes: number): Buffer;
  copy(dst: bigint, src: bigint, len: number, kind: CopyKind, devId: number): Promise<void>;
  copySync(dst: bigint, src: bigint, len: number, kind: CopyKind, devId: number): void;
  memset(addr: bigint, value: number, len: number, devId: number): void;
  ipcGetHandle(addr: bigint, devId: number): Buffer;
  ipcOpen(handle: Uint8Array, devId: number): bigint;
  ipcClose(addr: bigint, devId: number): void;
}

export type CopyKind = 'h2d' | 'd2h' | 'd2d';

const NOT_BUILT: VramSupport = {
  ok: false,
  reason: `the nixl_cuda addon is missing; ${COMPILE_HINT}`,
  library: '',
  driverVersion: 0,
  devices: [],
};

let cached: VramSupport | undefined;

/** Whether VRAM can be used in this process, and if not, why. Probes once. */
export function vramSupport(): VramSupport {
  if (!cached) {
    cached = hasAddon('nixl_cuda')
      ? Object.freeze((loadAddon('nixl_cuda') as unknown as CudaAddon).support())
      : NOT_BUILT;
  }
  return cached;
}

/**
 * The CUDA addon, for code that moves VRAM; throws NotSupportedError with
 * the reason when there is no usable driver or device.
 */
export function cuda(ctx: ErrorContext = {}): CudaAddon {
  const s = vramSupport();
  if (!s.ok) throw new NotSupportedError(`VRAM is not supported here: ${s.reason}`, ctx);
  return loadAddon('nixl_cuda') as unknown as CudaAddon;
}

/** Calls the addon, turning its errors (which carry a status) into typed ones. */
export function cudaCall<T>(ctx: ErrorContext, f: (c: CudaAddon) => T): T {
  const c = cuda(ctx);
  try {
    return f(c);
  } catch (err) {
    if (err instanceof NixlError) throw err;
    // The addon throws Errors with a numeric status (native/common/native_error.h).
    const status = (err as { status?: unknown })?.status;
    throw statusToError(
      typeof status === 'number' ? status : Status.ERR_BACKEND,
      (err as Error)?.message ?? String(err),
      { ...ctx, cause: err },
    );
  }
}

function checkDevId(devId: number, ctx: ErrorContext): void {
  const s = vramSupport();
  if (!Number.isInteger(devId) || devId < 0 || devId >= s.devices.length) {
    throw new InvalidParamError(
      `devId ${devId} is not a CUDA device of this machine (it has ${s.devices.length})`,
      ctx,
    );
  }
}

/**
 * Checks, before any backend sees them, that every region of a VRAM
 * registration list is device memory of its devId, inside one allocation.
 */
export function checkVramRegions(list: RegDescList, ctx: ErrorContext): void {
  cuda(ctx);
  for (let i = 0; i < list.length; i++) {
    const addr = BigInt(list.addrs[i]!);
    const len = list.lens[i]!;
    const devId = list.devIds[i]!;
    checkDevId(devId, ctx);
    cudaCall({ ...ctx, op: `${ctx.op ?? 'registerMem'} (region ${i})` }, (c) =>
      c.pointerInfo(addr, len, devId),
    );
  }
}

/** Device memory from agent.alloc({ memType: 'VRAM' }): free it, or the agent frees it at close. */
export class VramAllocation {
  readonly memType = 'VRAM' as const;
  readonly desc: { readonly addr: bigint; readonly len: number; readonly devId: number };
  #freed = false;
  readonly #onFree: (a: VramAllocation) => void;

  constructor(
    bytes: number,
    devId: number,
    onFree: (a: VramAllocation) => void,
    ctx: ErrorContext,
  ) {
    cuda(ctx);
    checkDevId(devId, ctx);
    const addr = cudaCall(ctx, (c) => c.memAlloc(bytes, devId));
    this.desc = Object.freeze({ addr, len: bytes, devId });
    this.#onFree = onFree;
  }

  get freed(): boolean {
    return this.#freed;
  }

  /** Frees the device memory (idempotent). Deregister it first. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#onFree(this);
    cudaCall({ op: 'free' }, (c) => c.memFree(this.desc.addr, this.desc.devId));
  }

  [Symbol.dispose](): void {
    this.free();
  }
}
