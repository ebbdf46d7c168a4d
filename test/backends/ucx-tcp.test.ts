// The conformance suite for UCX over tcp only: in one process and across two.
import { backendConformance } from '../../testing/index.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

if (UCX_AVAILABLE) await backendConformance('UCX', { params: { profile: 'tcp', devices: 'lo' } });
else reportUcxUnavailable('UCX conformance (tcp)');
