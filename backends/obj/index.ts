import { createRequire } from 'node:module';

import { BACKEND_API_VERSION, type BackendPlugin } from '../../src/backend.js';
import { DEFAULT_PARAMS, endpointUrl, parseParams } from './params.js';

export { ObjBackend } from './obj-backend.js';
export { OBJ_PARAM_TABLE } from './params.js';

/** The AWS SDK's S3 client is an optional peer dependency: OBJ is listed only where it resolves. */
function objUnavailableReason(): string | undefined {
  try {
    createRequire(import.meta.url).resolve('@aws-sdk/client-s3');
    return undefined;
  } catch {
    return 'the OBJ backend needs the AWS SDK S3 client: npm install @aws-sdk/client-s3';
  }
}

/**
 * The OBJ backend plugin: READ and WRITE between registered DRAM and S3
 * objects (NIXL's OBJ memory type) through the AWS SDK v3 S3 client, which
 * loads only when a backend is created.
 */
export const plugin: BackendPlugin = {
  apiVersion: BACKEND_API_VERSION,
  name: 'OBJ',
  version: '1.0.0',
  mems: ['DRAM', 'OBJ'],
  defaultParams: DEFAULT_PARAMS,
  unavailableReason: objUnavailableReason,
  async create(params, components) {
    const opts = parseParams(params);
    const [{ ObjBackend }, { S3Store }, { SyncHead }] = await Promise.all([
      import('./obj-backend.js'),
      import('./s3-store.js'),
      import('./sync-head.js'),
    ]);
    const ctx = { backend: 'OBJ', agent: components.agentName };
    const store = new S3Store(opts, ctx);
    const credentials =
      opts.accessKey !== ''
        ? {
            accessKeyId: opts.accessKey,
            secretAccessKey: opts.secretKey,
            ...(opts.sessionToken ? { sessionToken: opts.sessionToken } : {}),
          }
        : undefined;
    const syncHead = new SyncHead({
      region: opts.region,
      endpoint: endpointUrl(opts),
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: opts.maxAttempts,
      timeoutMs: opts.requestTimeoutMs,
      credentials,
    });
    return new ObjBackend(params, opts, store, syncHead, components);
  },
};

export default plugin;
