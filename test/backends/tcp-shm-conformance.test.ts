// The conformance suite on memory the TCP backend allocated (a memfd): peers on
// this host map each other's regions and move bytes with memcpy (shared_mem.cc),
// in one process (no mapping: the engine never grants its own process) and
// across two, peer kills included.
import { backendConformance } from '../../testing/index.js';

await backendConformance('TCP', {
  params: { port: '0', same_host: 'auto', timeout_ms: '5000' },
  allocBackend: 'TCP',
  title: 'TCP conformance, shared memory on TCP-allocated memory',
  disconnectBoundMs: 10_000,
});
