// The conformance suite with the same-host path on (the default): peers on
// this host move payload with process_vm_readv/writev, served by the target.
import { backendConformance } from '../../testing/index.js';

await backendConformance('TCP', {
  params: { port: '0', same_host: 'auto', timeout_ms: '5000' },
  disconnectBoundMs: 10_000,
});
