// The conformance suite with FILE on the target side and DRAM on the other,
// on both runners: io_uring (the default here; small transfers first tried
// inline) and the forced thread pool with every byte moved by the pool.
import { backendConformance } from '../../testing/index.js';
import { fileTarget } from './file-target.js';

await backendConformance('POSIX', {
  title: 'POSIX conformance (io_uring)',
  params: { api_type: 'uring' },
  storageTarget: fileTarget,
});

await backendConformance('POSIX', {
  title: 'POSIX conformance (thread pool, nothing inline)',
  params: { api_type: 'pool', inline_bytes: '0' },
  storageTarget: fileTarget,
});
