export {
  Agent,
  type AgentOptions,
  type MetricsRegistry,
  type BackendSpec,
  type BackendSelection,
  type XferOptions,
  type PostOptions,
  type PartialMDOptions,
  DEFAULT_METADATA_LABEL,
  DEFAULT_WAIT_SPIN_US,
} from './agent.js';
export {
  BACKEND_API_VERSION,
  DEFAULT_MAX_NOTIF_BYTES,
  checkNotifSize,
  type Backend,
  type BackendCapabilities,
  type BackendComponents,
  type BackendMD,
  type BackendParams,
  type BackendPlugin,
  type BackendXfer,
  type LocalRegionDesc,
  type PeerIdentity,
  type PrepXferOptions,
  type RemoteRegionDesc,
  type RemoteRegionBatch,
  type RemoteHandles,
  type XferDescs,
  type XferOp,
} from './backend.js';
export {
  DescList,
  RegDescList,
  MEM_TYPES,
  MEM_TYPE_CODE,
  isMemType,
  type Desc,
  type DescInput,
  type MemType,
} from './descriptors.js';
export {
  isMetadataStore,
  type Discovery,
  type DiscoveryHost,
  type MetadataStore,
  type PeerEventKind,
  type RegistrationChange,
} from './discovery.js';
export * from './errors.js';
export { createLogger, type Logger, type LogLevel, type LogSink } from './logger.js';
export type { XferEvent, XferObserver } from './xfer-observer.js';
export type { MemoryInput, RawRegion } from './memory-input.js';
export { decodeMetadata, encodeMetadata, type AgentMetadata } from './metadata.js';
export { PreppedDlist } from './prepped-dlist.js';
export { Registration } from './registration.js';
export {
  Status,
  isStatusCode,
  type PostStatus,
  type StatusCode,
  type XferState,
} from './status.js';
export { XferRequest, type XferTelemetry } from './xfer-request.js';
export {
  vramSupport,
  VramAllocation,
  type VramSupport,
  type VramDevice,
  type CopyKind,
} from './vram.js';
