/**
 * Reading and writing test objects straight through the AWS SDK (not the OBJ
 * backend): what the tests compare the backend's work against, and the
 * conformance suite's OBJ storage target.
 */
import { randomBytes } from 'node:crypto';

import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

import type { Agent } from '../../src/agent.js';
import type { StorageRegion, StorageTarget } from '../../testing/backend-suite.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { S3_TEST_CREDENTIALS, type S3Server } from './s3-server.js';

export function s3Client(server: S3Server): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3_TEST_CREDENTIALS,
  });
}

export async function createBucket(c: S3Client, bucket: string): Promise<void> {
  await c.send(new CreateBucketCommand({ Bucket: bucket }));
}

export async function putObject(
  c: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array,
): Promise<void> {
  await c.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }),
  );
}

/** The whole object, or bytes [off, off + len). */
export async function getObject(
  c: S3Client,
  bucket: string,
  key: string,
  off?: number,
  len?: number,
): Promise<Uint8Array> {
  const Range = off === undefined ? undefined : `bytes=${off}-${off + len! - 1}`;
  if (len === 0) return new Uint8Array(0);
  const r = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range }));
  return r.Body!.transformToByteArray();
}

/**
 * The conformance suite's OBJ target: an object of base + size zero bytes,
 * registered from offset `base` (4096, so that address 0x100 is in no
 * region) under devId 0 with its key as metaInfo.
 */
export function objStorageTarget(server: S3Server, bucket: string): StorageTarget {
  return {
    memType: 'OBJ',
    async create(agent: Agent, size: number): Promise<StorageRegion> {
      const base = 4096;
      const key = `conformance/${randomBytes(6).toString('hex')}`;
      const c = s3Client(server);
      await putObject(c, bucket, key, new Uint8Array(base + size));
      agent.registerMem(
        [{ addr: base, len: size, devId: 0, metaInfo: new TextEncoder().encode(key) }],
        {
          memType: 'OBJ',
        },
      );
      return {
        base: BigInt(base),
        devId: 0,
        async fill(off, len, seed) {
          const whole = await getObject(c, bucket, key);
          fillPattern(whole.subarray(base + off, base + off + len), seed);
          await putObject(c, bucket, key, whole);
        },
        async hash(off, len) {
          return sha256(await getObject(c, bucket, key, base + off, len));
        },
        async close() {
          c.destroy();
        },
      };
    },
  };
}
