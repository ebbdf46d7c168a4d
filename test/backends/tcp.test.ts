// The conformance suite over the socket path (same-host copies off), so the
// one-process and two-process pairs both move bytes through TCP frames.
import { backendConformance } from '../../testing/index.js';

await backendConformance('TCP', {
  params: { port: '0', same_host: 'off', timeout_ms: '5000' },
  disconnectBoundMs: 10_000,
});
