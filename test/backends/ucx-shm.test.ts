// The conformance suite for UCX over shared memory (posix/sysv/cma) with tcp
// for what needs peer failure detection: in one process and across two.
import { backendConformance } from '../../testing/index.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

if (UCX_AVAILABLE) {
  // With the default errorHandling 'peer', UCX 1.13 carries this over tcp
  // (ucx-tcp.test.ts runs the full peer-kill count for that): a few kills.
  await backendConformance('UCX', {
    params: { profile: 'shm', devices: 'lo' },
    peerKill: { runs: 5 },
  });
  // errorHandling 'process' on memory UCX allocated (agent.alloc with backend
  // UCX): posix/sysv map the peer's region and put/get are plain copies; a
  // dead peer is noticed through its process.
  await backendConformance('UCX', {
    params: { profile: 'shm', devices: 'lo', errorHandling: 'process' },
    allocBackend: 'UCX',
    title: 'UCX conformance, shared memory on UCX-allocated memory',
    peerKill: false, // in ucx-shm-peer-kill.test.ts (a file of its own: it runs for minutes)
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
    peerKill: false, // in ucx-shm-peer-kill.test.ts
  });
} else reportUcxUnavailable('UCX conformance (shared memory)');
