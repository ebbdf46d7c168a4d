// The conformance suite for UCX over shared memory (posix/sysv/cma) with tcp
// for what needs peer failure detection: in one process and across two.
import { backendConformance } from '../conformance/index.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

if (UCX_AVAILABLE) {
  await backendConformance('UCX', { params: { profile: 'shm', devices: 'lo' } });
  // errorHandling 'process' on memory UCX allocated (agent.alloc with backend
  // UCX): posix/sysv map the peer's region and put/get are plain copies; a
  // dead peer is noticed through its process.
  await backendConformance('UCX', {
    params: { profile: 'shm', devices: 'lo', errorHandling: 'process' },
    allocBackend: 'UCX',
    title: 'UCX conformance, shared memory on UCX-allocated memory',
  });
} else reportUcxUnavailable('UCX conformance (shared memory)');
