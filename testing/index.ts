/** The conformance suite, for built-in and out-of-tree backends (`nixl-ts/testing`). */
export {
  backendConformance,
  peerFailureConformance,
  type ConformanceOptions,
} from './backend-suite.js';
export { fillPattern, sha256 } from './pattern.js';
export { JsonLineChild, type JsonLineEvent, type JsonLineReply } from './json-line-child.js';
export type { PeerKillOptions } from './peer-kill.js';
export { PeerProcess } from './peer-harness.js';
export type { TransferPair } from './transfer-pair.js';
