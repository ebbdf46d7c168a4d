// The conformance suite for UCX over shared memory (posix/sysv/cma) with tcp
// for what needs peer failure detection: in one process and across two.
import { backendConformance } from '../conformance/index.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

if (UCX_AVAILABLE) {
  await backendConformance('UCX', { params: { profile: 'shm', devices: 'lo' } });
  // On memory UCX allocated (agent.alloc with backend UCX), posix/sysv map the
  // peer's region and put/get are plain copies. UCX 1.13 gives those
  // transports no peer failure detection, so this runs with errorHandling none.
  await backendConformance('UCX', {
    params: { profile: 'shm', devices: 'lo', errorHandling: 'none' },
    allocBackend: 'UCX',
    title: 'UCX conformance, shared memory on UCX-allocated memory',
    noPeerDeath: "errorHandling 'none' has no peer failure detection on UCX 1.13",
  });
} else reportUcxUnavailable('UCX conformance (shared memory)');
