/**
 * A FILE target for the conformance suite's loopback group: a sparse temporary
 * file registered by descriptor (NIXL's fd mode), at an offset of 1 MiB so
 * that descriptor addresses below it lie in no region.
 */
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { StorageTarget } from '../../testing/index.js';
import { fillPattern, sha256 } from '../../testing/index.js';

export const FILE_BASE = 1 << 20;

export const fileTarget: StorageTarget = {
  memType: 'FILE',
  async create(a, bytes) {
    const dir = mkdtempSync(join(tmpdir(), 'nixl-file-conf-'));
    const fd = openSync(join(dir, 'target'), 'w+');
    ftruncateSync(fd, FILE_BASE + bytes);
    a.registerMem([{ addr: BigInt(FILE_BASE), len: bytes, devId: fd }], { memType: 'FILE' });
    return {
      base: BigInt(FILE_BASE),
      devId: fd,
      async fill(off, len, seed) {
        const buf = Buffer.alloc(len);
        fillPattern(buf, seed);
        writeSync(fd, buf, 0, len, FILE_BASE + off);
      },
      async hash(off, len) {
        const buf = Buffer.alloc(len);
        let got = 0;
        while (got < len) {
          const n = readSync(fd, buf, got, len - got, FILE_BASE + off + got);
          if (n === 0) break;
          got += n;
        }
        return sha256(buf.subarray(0, got));
      },
      async close() {
        closeSync(fd);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
