/**
 * The shared conformance suite with OBJ: DRAM on the initiator's side, an
 * object of a real S3-API server (s3rver, started here on 127.0.0.1 and
 * stopped by its pid) on the other.
 */
import { afterAll } from 'vitest';

import { backendConformance } from '../../testing/backend-suite.js';
import { objStorageTarget } from '../s3/s3-objects.js';
import { S3Server } from '../s3/s3-server.js';

const BUCKET = 'nixl-conformance';
const server = await S3Server.start({ buckets: [BUCKET] });
afterAll(() => server.stop());

await backendConformance('OBJ', {
  params: server.params(BUCKET),
  storageTarget: objStorageTarget(server, BUCKET),
});
