import { BACKEND_API_VERSION, type BackendPlugin } from '../../src/backend.js';
import { NotFoundError } from '../../src/errors.js';
import { ibDevices, needsIb, noIbMessage } from './ib-devices.js';
import { ucxUnavailableReason, ucxLoadFailure } from './native-ucx.js';
import { DEFAULT_PARAMS, parseParams } from './params.js';
import { UcxBackend } from './ucx-backend.js';

export { UcxBackend } from './ucx-backend.js';
export { parseParams, PROFILES, type UcxOptions } from './params.js';

/** The UCX backend plugin: RDMA, InfiniBand/RoCE, shared memory and TCP through UCX. */
export const plugin: BackendPlugin = {
  apiVersion: BACKEND_API_VERSION,
  name: 'UCX',
  version: '1.0.0',
  mems: ['DRAM'],
  defaultParams: DEFAULT_PARAMS,
  unavailableReason: ucxUnavailableReason,
  async create(params, components) {
    const reason = ucxLoadFailure();
    if (reason)
      throw new NotFoundError(`UCX backend unavailable: ${reason}`, {
        op: 'createBackend',
        backend: 'UCX',
      });
    const options = parseParams(params);
    // Only the verbs-only choice is refused up front; a mixed list (rc,tcp) works without IB.
    const wanted = options.transports.split(',').filter((t) => !['self', 'sm', 'shm'].includes(t));
    if (wanted.length && wanted.every((t) => needsIb(t)) && ibDevices().length === 0) {
      throw new NotFoundError(`UCX backend unavailable: ${noIbMessage()}`, {
        op: 'createBackend',
        backend: 'UCX',
      });
    }
    return new UcxBackend(params, options, components);
  },
};

export default plugin;
