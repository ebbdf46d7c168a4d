/** The conformance suite, for built-in and out-of-tree backends (`nixl-ts/testing`). */
export { backendConformance, type ConformanceOptions } from './backend-suite.js';
export { fillPattern, sha256 } from './pattern.js';
export { JsonLineChild, type JsonLineReply } from './json-line-child.js';
export { PeerProcess } from './peer-harness.js';
export type { TransferPair } from './transfer-pair.js';
