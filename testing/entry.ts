/**
 * `nixl-ts/testing`: the conformance suites register vitest tests, so vitest
 * (an optional peer dependency) must be installed; without it the import
 * fails with what to install instead of ERR_MODULE_NOT_FOUND.
 */
import { requirePeerDeps } from '../plugins/optional-deps.js';

requirePeerDeps('nixl-ts/testing', { vitest: '^4.1.12' });
const testing = await import('./index.js');

export const {
  backendConformance,
  peerFailureConformance,
  describeMismatch,
  fillKvBlocks,
  fillPattern,
  sha256,
  verifyKvBlocks,
  verifyPattern,
  JsonLineChannel,
  JsonLineChild,
  serveJsonLines,
  PeerProcess,
} = testing;
