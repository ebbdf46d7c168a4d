/**
 * The FILE backend's parameters: one table (backends/common/param-table.ts)
 * from which the parser, the README table and the native engine's options come.
 */
import type { BackendParams } from '../../src/backend.js';
import {
  integer,
  oneOf,
  onOff,
  paramDefaults,
  parseParamTable,
  type ParsedParams,
} from '../common/param-table.js';

const bool = onOff('true', 'false');

const powerOfTwo =
  (min: number, max: number) =>
  (raw: string, fail: (want: string) => never): number => {
    const v = integer(min, max)(raw, fail);
    if ((v & (v - 1)) !== 0) fail(`a power of two in ${min}..${max}`);
    return v;
  };

export const FILE_PARAM_TABLE = {
  api_type: {
    field: 'api',
    default: 'auto',
    doc: '`auto`: io_uring where the kernel allows it, else the thread pool; `uring`: io_uring or fail at creation; `pool`: the thread pool of `pread`/`pwrite` (the fallback, forced). `backend.api` says which one runs.',
    parse: oneOf('auto', 'uring', 'pool'),
  },
  queue_depth: {
    field: 'queueDepth',
    default: '64',
    doc: 'io_uring: chunks in flight at once (the ring has one entry more).',
    parse: integer(1, 4096),
  },
  pool_threads: {
    field: 'poolThreads',
    default: '4',
    doc: 'thread pool: threads doing `pread`/`pwrite`.',
    parse: integer(1, 64),
  },
  chunk_bytes: {
    field: 'chunkBytes',
    default: String(1 << 20),
    doc: 'descriptors are moved in pieces of at most this many bytes, in parallel.',
    parse: integer(4096, 1 << 30),
  },
  inline_bytes: {
    field: 'inlineBytes',
    default: String(64 * 1024),
    doc: 'a transfer of at most this many bytes is first tried inside `postXferReq` with `RWF_NOWAIT`: page-cache hits finish there (`DONE` at once, no thread hop); what would block (a miss, a lock) goes on to io_uring or the pool from where it stopped. Never for `O_DIRECT` files. `0`: never.',
    parse: integer(0, 1 << 24),
  },
  o_direct: {
    field: 'oDirect',
    default: 'false',
    doc: 'path-mode registrations open their file with `O_DIRECT` (a descriptor registered by fd keeps its own flags; one opened with `O_DIRECT` is checked the same way). Every transfer touching such a file must have its file offset, length and memory address aligned to `direct_alignment`, checked when the request is made (`InvalidParamError`).',
    parse: bool,
  },
  direct_alignment: {
    field: 'directAlignment',
    default: '4096',
    doc: "the alignment `O_DIRECT` transfers are checked against (the device's logical block size or more).",
    parse: powerOfTwo(512, 1 << 20),
  },
  slots: {
    field: 'slots',
    default: '65536',
    doc: 'transfer handles this backend can have prepared at once: a status slot each (4 bytes, shared with JavaScript), allocated 1,024 at a time as needed.',
    parse: integer(16, 1 << 22),
  },
} as const;

export type FileParams = ParsedParams<typeof FILE_PARAM_TABLE>;

export const DEFAULT_PARAMS: Readonly<BackendParams> = paramDefaults(FILE_PARAM_TABLE);

export function parseParams(p: BackendParams): FileParams {
  return parseParamTable(FILE_PARAM_TABLE, p, 'POSIX');
}
