/**
 * The shared conformance suite with OBJ: DRAM on the initiator's side, an
 * object of a real S3-API server (s3rver, started here on 127.0.0.1 and
 * stopped by its pid) on the other.
 */
import { afterAll, vi } from 'vitest';

import { backendConformance } from '../../testing/backend-suite.js';
import { objStorageTarget } from '../s3/s3-objects.js';
import { S3Server } from '../s3/s3-server.js';

// The suite's small WRITEs land inside a 64 MiB object: each one reads and
// puts back the whole object (S3 cannot write in place; see the README), a
// few seconds on a loaded two-core machine. Its default 60 s per test is
// meant for memory; the bound here is generous, and nothing asserts a time.
vi.setConfig({ testTimeout: 240_000 });

const BUCKET = 'nixl-conformance';
const server = await S3Server.start({ buckets: [BUCKET] });
afterAll(() => server.stop());

await backendConformance('OBJ', {
  params: server.params(BUCKET),
  storageTarget: objStorageTarget(server, BUCKET),
});
