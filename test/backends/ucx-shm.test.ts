// The conformance suite for UCX over shared memory (posix/sysv/cma) with tcp
// for what needs peer failure detection: in one process and across two.
import { backendConformance } from '../conformance/index.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

if (UCX_AVAILABLE) await backendConformance('UCX', { params: { profile: 'shm', devices: 'lo' } });
else reportUcxUnavailable('UCX conformance (shared memory)');
