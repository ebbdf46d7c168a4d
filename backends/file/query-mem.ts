/**
 * NIXL's queryMem for files: what stat(2) says about the file each
 * descriptor names (path mode: `metaInfo`; fd mode: the descriptor `devId`).
 * A file that does not exist answers undefined (NIXL: not accessible, no info).
 */
import { accessSync, constants, fstatSync, statSync, type Stats } from 'node:fs';

import type { LocalRegionDesc } from '../../src/backend.js';
import { pathOf } from './file-regions.js';

function can(path: string | undefined, mode: number, stats: Stats): string {
  if (path === undefined)
    return String((stats.mode & (mode === constants.R_OK ? 0o444 : 0o222)) !== 0);
  try {
    accessSync(path, mode);
    return 'true';
  } catch {
    return 'false';
  }
}

export function queryFiles(
  descs: readonly LocalRegionDesc[],
): (Record<string, string> | undefined)[] {
  return descs.map((d) => {
    const path = pathOf(d);
    let stats: Stats | undefined;
    try {
      stats = path !== undefined ? statSync(path, { throwIfNoEntry: false }) : fstatSync(d.devId);
    } catch {
      stats = undefined; // a bad descriptor: nothing to say about it
    }
    if (!stats) return undefined;
    return {
      accessible: 'true',
      exists: 'true',
      size: String(stats.size),
      mode: (stats.mode & 0o7777).toString(8),
      mtime: String(Math.floor(stats.mtimeMs)),
      type: stats.isFile()
        ? 'file'
        : stats.isBlockDevice()
          ? 'block'
          : stats.isDirectory()
            ? 'directory'
            : 'other',
      readable: can(path, constants.R_OK, stats),
      writable: can(path, constants.W_OK, stats),
    };
  });
}
