import { BACKEND_API_VERSION, type BackendPlugin } from '../../src/backend.js';
import { FileBackend } from './file-backend.js';
import { fileUnavailableReason } from './native-file.js';
import { DEFAULT_PARAMS, parseParams } from './params.js';

export { FileBackend } from './file-backend.js';
export { DEFAULT_PARAMS, FILE_PARAM_TABLE, parseParams, type FileParams } from './params.js';

/**
 * The POSIX backend plugin (NIXL's name for it): READ and WRITE between
 * registered DRAM and FILE regions of the same agent, through io_uring or a
 * thread pool.
 */
export const plugin: BackendPlugin = {
  apiVersion: BACKEND_API_VERSION,
  name: 'POSIX',
  version: '1.0.0',
  mems: ['DRAM', 'FILE'],
  defaultParams: DEFAULT_PARAMS,
  unavailableReason: fileUnavailableReason,
  async create(params, components) {
    return new FileBackend(params, parseParams(params), components);
  },
};

export default plugin;
