/**
 * The regions the FILE backend knows: DRAM (the memory side of a transfer)
 * and FILE (NIXL's FILE_SEG: `addr` is the offset in the file, `len` the
 * length, the file named by descriptor or by path).
 *
 * - **fd mode** (NIXL's): `devId` is an open file descriptor and `metaInfo`
 *   is empty. The engine keeps its own duplicate of it until deregistration,
 *   so the caller may close theirs at any time.
 * - **path mode**: `metaInfo` holds the file's path (UTF-8, as NIXL's
 *   queryMem reads it) and `devId` is any number the caller picks to tell
 *   its FILE registrations apart (transfer descriptors name it again). The
 *   backend opens the path read-write, creating it (0644) if absent, or
 *   read-only where it may not write it; with `o_direct` it adds O_DIRECT.
 */
import { closeSync, constants, openSync } from 'node:fs';

import type { LocalRegionDesc } from '../../src/backend.js';
import { InvalidParamError, NotSupportedError } from '../../src/errors.js';
import { fromNative } from '../common/native-error.js';
import type { FileEngine, FileInfo } from './native-file.js';

export interface DramMD {
  readonly kind: 'DRAM';
  readonly addr: number;
  readonly len: number;
  /** Keeps the memory alive while a transfer holds this region. */
  readonly view?: Uint8Array;
  registered: boolean;
}

export interface FileMD extends FileInfo {
  readonly kind: 'FILE';
  /** The registered range of the file. */
  readonly offset: number;
  readonly len: number;
  readonly devId: number;
  readonly path?: string;
  registered: boolean;
}

export type RegionMD = DramMD | FileMD;

const BACKEND = 'POSIX';
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The path a FILE registration names, or undefined in fd mode. */
export function pathOf(desc: Pick<LocalRegionDesc, 'metaInfo'>): string | undefined {
  if (!desc.metaInfo || desc.metaInfo.byteLength === 0) return undefined;
  try {
    const path = decoder.decode(desc.metaInfo);
    if (!path.includes('\0')) return path;
  } catch {
    // not UTF-8: refused below
  }
  throw new InvalidParamError('metaInfo must be a file path (UTF-8, no NUL byte)', {
    op: 'registerMem',
    backend: BACKEND,
  });
}

/** Opens `path` for a path-mode registration; the caller closes the descriptor. */
function openPath(path: string, direct: boolean): number {
  const extra = direct ? constants.O_DIRECT : 0;
  try {
    return openSync(path, constants.O_RDWR | constants.O_CREAT | extra, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EISDIR') {
      try {
        return openSync(path, constants.O_RDONLY | extra);
      } catch {
        // the first error says more
      }
    }
    throw new InvalidParamError(`cannot open '${path}': ${(err as Error).message}`, {
      op: 'registerMem',
      backend: BACKEND,
      cause: err,
    });
  }
}

export function registerRegion(
  engine: FileEngine,
  desc: LocalRegionDesc,
  oDirect: boolean,
): RegionMD {
  const ctx = { op: 'registerMem', backend: BACKEND };
  if (desc.memType === 'DRAM') {
    return { kind: 'DRAM', addr: desc.addr, len: desc.len, view: desc.view, registered: true };
  }
  if (desc.memType !== 'FILE') {
    throw new NotSupportedError(`POSIX moves DRAM and FILE memory, not ${desc.memType}`, ctx);
  }
  const path = pathOf(desc);
  if (
    path === undefined &&
    (!Number.isInteger(desc.devId) || desc.devId < 0 || desc.devId > 2 ** 31 - 1)
  ) {
    throw new InvalidParamError(
      `devId ${desc.devId} is not a file descriptor (fd mode: devId is an open fd, metaInfo empty)`,
      ctx,
    );
  }
  const fd = path === undefined ? desc.devId : openPath(path, oDirect);
  let info: FileInfo;
  try {
    info = engine.registerFile(fd);
  } catch (err) {
    throw fromNative(err, ctx);
  } finally {
    if (path !== undefined) closeSync(fd); // the engine has its own duplicate
  }
  return {
    kind: 'FILE',
    ...info,
    offset: desc.addr,
    len: desc.len,
    devId: desc.devId,
    path,
    registered: true,
  };
}

/**
 * Why an O_DIRECT transfer of one descriptor cannot run (offset, length and
 * memory address must all be multiples of `align`), or undefined if it can.
 */
export function misalignment(
  offset: number,
  len: number,
  addr: number,
  align: number,
): string | undefined {
  const bad: string[] = [];
  if (offset % align !== 0) bad.push(`file offset ${offset}`);
  if (len % align !== 0) bad.push(`length ${len}`);
  if (addr % align !== 0) bad.push(`memory address 0x${addr.toString(16)}`);
  return bad.length ? `${bad.join(', ')} not aligned to ${align} bytes` : undefined;
}
