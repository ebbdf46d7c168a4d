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
  // UCX's MM_ERROR_HANDLING on: posix/sysv serve peer-error-handling
  // endpoints. No tcp at all, so shared memory carries everything (without the
  // setting UCX finds no transport for such an endpoint), and a killed peer is
  // found by UCX's keepalive.
  await backendConformance('UCX', {
    params: {
      transports: 'posix,sysv,cma',
      devices: 'lo',
      config: 'MM_ERROR_HANDLING=y,KEEPALIVE_INTERVAL=250ms',
    },
    title: 'UCX conformance, shared memory only, with UCX peer error handling',
  });
} else reportUcxUnavailable('UCX conformance (shared memory)');
