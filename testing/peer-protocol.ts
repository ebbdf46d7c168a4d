/**
 * The line protocol between the conformance suite and a peer agent in a
 * child process: one JSON object per line each way, matched by `id`.
 */
export type PeerCommand =
  | {
      id: number;
      cmd: 'init';
      backend: string;
      params: Record<string, string>;
      plugins: string[];
      size: number;
      name: string;
      /** Allocate the region with this backend (agent.alloc's `backend`). */
      allocBackend?: string;
    }
  | { id: number; cmd: 'load'; md: string }
  | { id: number; cmd: 'fill'; off: number; len: number; seed: number }
  | { id: number; cmd: 'hash'; off: number; len: number }
  | { id: number; cmd: 'notif'; msg: string; timeoutMs: number }
  | { id: number; cmd: 'close' }
  /** The TCP backend's shared-memory counters (backends/tcp, ShmCounters). */
  | { id: number; cmd: 'shmCounters' }
  | InitiatorCommand
  | {
      id: number;
      /**
       * Watch the region for an incoming WRITE and die by SIGKILL (the peer
       * sends it to its own pid) as soon as its first bytes have landed. The
       * peer writes `{ event: 'armed', id }` before it starts watching, and
       * its reply (the `watch` field) just before it dies. It blocks its
       * event loop while it watches (the data plane is native, rule 1); with
       * no change within timeoutMs it replies with an error and stays alive.
       */
      cmd: 'watch';
      /** The first 8 bytes of every `stride` bytes are probed (a multiple of 8). */
      stride: number;
      /** What the probed words hold before the WRITE (u32). */
      sentinel: number;
      /** The expected u32 pair of the last 8 bytes of each stride chunk, in order. */
      tails: number[];
      /** sha256 of the whole region once the WRITE is complete. */
      expectHash: string;
      timeoutMs: number;
    };

/**
 * Commands that make the peer an initiator (the close-in-flight group runs
 * its initiator in a child, so that a crash in closing is a failure with the
 * child's stderr rather than the end of the test worker).
 */
export type InitiatorCommand =
  | {
      id: number;
      /** Create and post a request [localOff, +len) of the region <-> remoteAddr at `peer`. */
      cmd: 'post';
      op: 'READ' | 'WRITE';
      peer: string;
      localOff: number;
      remoteAddr: string;
      len: number;
      /** Fill the local range with this byte first. */
      sentinel?: number;
    }
  | { id: number; cmd: 'wait'; xfer: number; timeoutMs: number }
  /** Waits until a probe (every MiB) of [off, +len) differs from the sentinel byte. */
  | { id: number; cmd: 'firstBytes'; off: number; len: number; sentinel: number; timeoutMs: number }
  /**
   * agent.close(), bounded; then each posted request's end, the hash of its
   * local range when DONE, and the region's hash (for `changedSinceClose`).
   */
  | { id: number; cmd: 'closeAgent'; timeoutMs: number }
  /** Whether the region changed since closeAgent; then drops it and collects garbage. */
  | { id: number; cmd: 'changedSinceClose' };

/** What the peer knew of its region when it killed itself (the reply to `watch`). */
export interface WatchCertificate {
  /** Stride chunks probed, and how many of them had not yet got their last 8 bytes. */
  chunks: number;
  missing: number;
  /** Only when no chunk was missing: sha256 of the whole region, taken before dying. */
  hash?: string;
  /** How long the watch waited for the first bytes, in ms. */
  waitedMs: number;
  /** From the snapshot of the tails to the line just before the kill, in µs. */
  snapshotToKillUs: number;
}

export interface PeerReply {
  id: number;
  error?: string;
  /** init: base64 metadata and the served region. */
  md?: string;
  addr?: string;
  len?: number;
  /** hash: sha256 of the range. */
  hash?: string;
  /** notif: the sender and the sha256 of the whole region when it arrived. */
  from?: string;
  hashAtArrival?: string;
  /** watch: the peer's account of its region at its death. */
  watch?: WatchCertificate;
  /** post: the state postXferReq returned, and the request's number. */
  state?: string;
  xfer?: number;
  /** firstBytes */
  moved?: boolean;
  /** closeAgent: ms until close() resolved (absent if it did not within the bound). */
  closeMs?: number;
  /** closeAgent: per request, in posting order: 'DONE', an error's name, or 'unsettled'. */
  ends?: string[];
  /** closeAgent: per request, the sha256 of its local range if DONE. */
  hashes?: (string | null)[];
  /** changedSinceClose */
  changed?: boolean;
  /** shmCounters */
  shm?: Record<string, number>;
}
