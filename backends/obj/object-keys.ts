/**
 * Which object a registration names, as NIXL's OBJ plugin decides it: the
 * descriptor's metaInfo is the object key, or, without one, its devId written
 * in decimal. A metaInfo of the form `s3://bucket/key` names another bucket
 * than the backend's `bucket` parameter. One devId names one object: a
 * second registration of the devId under another key is refused.
 */
import type { LocalRegionDesc } from '../../src/backend.js';
import { InvalidParamError, type ErrorContext } from '../../src/errors.js';
import type { ObjectRef } from './s3-store.js';

/** devId → the object it names, and how many registered regions use it. */
export type ObjectKeys = Map<number, ObjectRef & { regions: number }>;

/** S3's limit on a key: 1024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function objectOf(
  desc: Pick<LocalRegionDesc, 'devId' | 'metaInfo'>,
  defaultBucket: string,
  keys: ObjectKeys | undefined,
  ctx: ErrorContext,
): ObjectRef {
  const meta = desc.metaInfo?.byteLength
    ? new TextDecoder('utf-8', { fatal: false }).decode(desc.metaInfo)
    : '';
  let bucket = defaultBucket;
  let key = meta === '' ? String(desc.devId) : meta;
  const uri = /^s3:\/\/([^/]+)\/(.+)$/s.exec(meta);
  if (uri) {
    bucket = uri[1]!;
    key = uri[2]!;
  } else if (meta.startsWith('s3://')) {
    throw new InvalidParamError(`metaInfo '${meta}' is not s3://bucket/key`, ctx);
  }
  if (bucket === '') {
    throw new InvalidParamError(
      'no bucket: set the OBJ backend parameter bucket (or AWS_DEFAULT_BUCKET), or register with metaInfo s3://bucket/key',
      ctx,
    );
  }
  if (!BUCKET.test(bucket))
    throw new InvalidParamError(`'${bucket}' is not a valid S3 bucket name`, ctx);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new InvalidParamError(
      `the object key is ${Buffer.byteLength(key)} bytes, over S3's ${MAX_KEY_BYTES}`,
      ctx,
    );
  }
  if (keys) {
    const known = keys.get(desc.devId);
    if (known && (known.bucket !== bucket || known.key !== key)) {
      throw new InvalidParamError(
        `devId ${desc.devId} names object ${known.bucket}/${known.key} already; it cannot also name ${bucket}/${key}`,
        ctx,
      );
    }
    if (known) known.regions++;
    else keys.set(desc.devId, { bucket, key, regions: 1 });
  }
  return { bucket, key };
}
