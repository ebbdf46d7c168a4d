// The conformance suite with busy_poll_us on both paths: small posts run on
// the caller's thread, which then reads its answer itself for a while (and may
// let the next status read see DONE); the I/O thread spins after serving.
import { backendConformance } from '../../testing/index.js';

for (const sameHost of ['off', 'auto']) {
  await backendConformance('TCP', {
    params: { port: '0', same_host: sameHost, timeout_ms: '5000', busy_poll_us: '200' },
    disconnectBoundMs: 10_000,
    title: `TCP busy_poll_us=200, same_host=${sameHost}`,
    // busy_poll_us changes how posts and answers are read, not how a dead
    // peer is found: a few kills here; tcp.test.ts and tcp-same-host.test.ts run 30.
    peerKill: { runs: 5 },
  });
}
