// The conformance suite for UCX over shared memory (posix/sysv/cma) with tcp
// for what needs peer failure detection: in one process and across two.
import { backendConformance } from '../conformance/index.js';
import { reportUcxSkipped, UCX_TESTS_ENABLED } from './ucx-gate.js';

if (UCX_TESTS_ENABLED) await backendConformance('UCX', { params: { profile: 'shm' } });
else reportUcxSkipped('UCX conformance (shared memory)');
