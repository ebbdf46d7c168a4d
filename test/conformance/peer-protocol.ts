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
  | { id: number; cmd: 'close' };

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
}
