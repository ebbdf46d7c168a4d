import type { Backend, BackendMD } from './backend.js';
import type { MemType } from './descriptors.js';

/** One region this agent registered, with each backend's handle for it. */
export interface LocalRegion {
  readonly memType: MemType;
  readonly addr: number;
  readonly len: number;
  readonly devId: number;
  readonly metaInfo?: Uint8Array;
  /** The bytes (kept alive while registered), where JavaScript can see them. */
  readonly view?: Uint8Array;
  /** registerMem results, per backend. */
  readonly mds: Map<Backend, BackendMD>;
  /** loadLocalMD results (the loopback target handle), per local-capable backend. */
  readonly loopback: Map<Backend, BackendMD>;
}
