// The conformance suite for UCX over tcp only: in one process and across two.
import { backendConformance } from '../conformance/index.js';

await backendConformance('UCX', { params: { profile: 'tcp' } });
