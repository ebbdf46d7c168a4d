/** The conformance suite, for built-in and out-of-tree backends (`nixl-ts/testing`). */
export {
  backendConformance,
  peerFailureConformance,
  type ConformanceOptions,
  type StorageRegion,
  type StorageTarget,
} from './backend-suite.js';
export {
  describeMismatch,
  fillKvBlocks,
  fillPattern,
  sha256,
  verifyKvBlocks,
  verifyPattern,
  type KvSlices,
  type PatternMismatch,
} from './pattern.js';
export {
  JsonLineChannel,
  JsonLineChild,
  type JsonLineChannelOptions,
  type JsonLineChildOptions,
  type JsonLineEvent,
  type JsonLineReply,
  type SpawnChild,
} from './json-line-child.js';
export {
  serveJsonLines,
  type JsonLineHandlers,
  type JsonLineServer,
  type JsonLineServerOptions,
} from './json-line-server.js';
export type { PeerKillOptions } from './peer-kill.js';
export { PeerProcess } from './peer-harness.js';
export type { TransferPair } from './transfer-pair.js';
