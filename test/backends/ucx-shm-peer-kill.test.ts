// The peer-failure groups of the conformance suite (a peer SIGKILLed
// mid-transfer, 30 times each for READ and WRITE of 256 MiB; close() with
// transfers in flight) for the two UCX shared-memory configurations of
// ucx-shm.test.ts, which leaves them out there so that neither file runs for
// too long.
import { peerFailureConformance } from '../../testing/index.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

if (UCX_AVAILABLE) {
  // errorHandling 'process' on memory UCX allocated: a put or get is a copy
  // into or out of the peer's mapped segment inside postXferReq, which returns
  // DONE. No kill can land mid-transfer, so the group asks for every DONE to
  // be verified by hash (and nothing else to fail), not for most runs to end
  // in RemoteDisconnectError; the kill comes after the post, and the next run
  // still has to work with the same initiator. 10 runs, not 30: each takes
  // 3-4 s here (every target has UCX allocate and share 256 MiB, which the
  // initiator then maps), and none can be killed mid-transfer anyway.
  await peerFailureConformance('UCX', {
    params: { profile: 'shm', devices: 'lo', errorHandling: 'process' },
    allocBackend: 'UCX',
    title: 'UCX peer failure, shared memory on UCX-allocated memory',
    peerKill: { copiesInsidePost: true, runs: 10 },
  });
  // UCX's MM_ERROR_HANDLING on, shared memory only (posix, sysv, cma), on
  // memory the caller allocated: the data moves while the target lives, and
  // UCX's keepalive finds the killed peer. A new initiator for every run: a
  // peer that dies mid-transfer leaves the survivor's shared-memory traffic
  // stuck (backends/ucx/README.md, "Why it is not the default"); reusing one
  // initiator, most later transfers moved no byte in 10 s.
  await peerFailureConformance('UCX', {
    params: {
      transports: 'posix,sysv,cma',
      devices: 'lo',
      config: 'MM_ERROR_HANDLING=y,KEEPALIVE_INTERVAL=250ms',
    },
    title: 'UCX peer failure, shared memory only, with UCX peer error handling',
    peerKill: { initiatorPerRun: true },
  });
} else reportUcxUnavailable('UCX peer failure (shared memory)');
