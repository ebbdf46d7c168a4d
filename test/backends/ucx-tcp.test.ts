// The conformance suite for UCX over tcp only: in one process and across two.
import { backendConformance } from '../conformance/index.js';
import { reportUcxSkipped, UCX_TESTS_ENABLED } from './ucx-gate.js';

if (UCX_TESTS_ENABLED) await backendConformance('UCX', { params: { profile: 'tcp' } });
else reportUcxSkipped('UCX conformance (tcp)');
