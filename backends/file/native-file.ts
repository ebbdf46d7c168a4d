import { COMPILE_HINT, hasAddon, loadAddon } from '../../src/native.js';
import type { BatchCallback, CompletionBatch } from '../common/settle-dispatch.js';
import type { FileParams } from './params.js';

/** What the engine learned about a registered descriptor (native/file/engine.h FileInfo). */
export interface FileInfo {
  /** The engine's id of its own duplicate of the descriptor. */
  id: number;
  /** Opened with O_DIRECT: transfers are checked for alignment. */
  direct: boolean;
  readable: boolean;
  writable: boolean;
}

/** The native engine's JavaScript surface (native/file/binding.cc). */
export interface FileEngine {
  info(): { api: 'uring' | 'pool'; uringError: string };
  growSlots(): Int32Array | undefined;
  takeBatch(): CompletionBatch | undefined;
  /** Duplicates `fd`; throws (status -2) for a descriptor that is not an open file. */
  registerFile(fd: number): FileInfo;
  deregisterFile(id: number): boolean;
  /** op: 0 WRITE (memory → file), 1 READ; 4 numbers per descriptor: file id, offset, address, length. */
  prep(slot: number, op: number, words: Float64Array): void;
  post(slot: number, gen: number): void;
  /** True while I/O of the transfer is still in the kernel (its memory must stay alive). */
  release(slot: number): boolean;
  ref(): void;
  unref(): void;
  close(): void;
}

export type FileEngineOptions = Pick<
  FileParams,
  'api' | 'queueDepth' | 'poolThreads' | 'chunkBytes' | 'inlineBytes' | 'slots'
>;
export type FileEngineClass = new (opts: FileEngineOptions, onBatch: BatchCallback) => FileEngine;

const ADDON = 'nixl_file';

export function loadFileEngine(): FileEngineClass {
  return loadAddon(ADDON).FileEngine as FileEngineClass;
}

/** Whether the addon was built with liburing (else only the pool runs). */
export function builtWithUring(): boolean {
  return loadAddon(ADDON).hasUring === true;
}

export function fileUnavailableReason(): string | undefined {
  return hasAddon(ADDON) ? undefined : `native addon ${ADDON}.node is missing; ${COMPILE_HINT}`;
}
