import { BACKEND_API_VERSION, type BackendPlugin } from '../../src/backend.js';
import { tcpUnavailableReason } from './native-engine.js';
import { DEFAULT_PARAMS, parseParams } from './params.js';
import { TcpBackend } from './tcp-backend.js';

export { TcpBackend } from './tcp-backend.js';
export type { LingerCounters, RegimeCounters, ShmCounters } from './native-engine.js';
export { DEFAULT_PARAMS, parseParams, type TcpParams } from './params.js';
export {
  VramStager,
  type VramRegion,
  type VramStagerOptions,
  type StagedXferOptions,
  type IpcMapping,
} from './vram-stager.js';
export { VramLanding, type VramLandingOptions } from './vram-landing.js';
export { isControl as isVramControlNotif } from './vram-control.js';
export { cudaCopyEngine, hostCopyEngine, type CopyEngine } from './copy-engine.js';
export { runPipeline, chunksOf, type Chunk, type PipelineStats } from './staging-pipeline.js';

/** The TCP backend plugin: one-sided READ/WRITE served by the native engine. */
export const plugin: BackendPlugin = {
  apiVersion: BACKEND_API_VERSION,
  name: 'TCP',
  version: '1.0.0',
  mems: ['DRAM'],
  defaultParams: DEFAULT_PARAMS,
  unavailableReason: tcpUnavailableReason,
  async create(params, components) {
    return new TcpBackend(params, parseParams(params), components);
  },
};

export default plugin;
