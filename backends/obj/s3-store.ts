/**
 * The S3 requests the OBJ backend makes, through the AWS SDK v3 client: a
 * ranged GET into registered memory, a PUT (multipart from
 * `multipart_threshold` bytes) from registered memory, HEAD. Every request
 * runs under the backend's concurrency limit and is bounded in time
 * (`request_timeout_ms`, retries included); failures come out typed
 * (s3-errors.ts).
 *
 * The SDK is an optional peer dependency: this module is imported only when an
 * OBJ backend is created.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { setMaxListeners } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';

import {
  CanceledError,
  MismatchError,
  NixlError,
  NotFoundError,
  NotSupportedError,
  RemoteDisconnectError,
  type ErrorContext,
} from '../../src/errors.js';
import { RequestLimit } from './request-limit.js';
import { s3Error } from './s3-errors.js';
import { endpointUrl, type ObjOptions } from './params.js';

/** Where an object lives. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

/** S3 allows at most 10,000 parts per upload. */
const MAX_PARTS = 10_000;

export interface ObjectInfo {
  size: number;
  etag?: string;
  lastModified?: Date;
}

export class S3Store {
  readonly client: S3Client;
  readonly #opts: ObjOptions;
  readonly #limit: RequestLimit;
  readonly #ctx: ErrorContext;

  constructor(opts: ObjOptions, ctx: ErrorContext) {
    this.#opts = opts;
    this.#ctx = ctx;
    this.#limit = new RequestLimit(opts.concurrency);
    const endpoint = endpointUrl(opts);
    const agentOpts = { keepAlive: true, maxSockets: opts.concurrency };
    this.client = new S3Client({
      region: opts.region,
      endpoint,
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: opts.maxAttempts,
      requestChecksumCalculation:
        opts.reqChecksum === 'supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials:
        opts.accessKey !== ''
          ? {
              accessKeyId: opts.accessKey,
              secretAccessKey: opts.secretKey,
              ...(opts.sessionToken ? { sessionToken: opts.sessionToken } : {}),
            }
          : undefined,
      requestHandler: {
        connectionTimeout: opts.requestTimeoutMs,
        requestTimeout: opts.requestTimeoutMs,
        httpAgent: new HttpAgent(agentOpts),
        httpsAgent: new HttpsAgent(agentOpts),
      },
    });
  }

  /**
   * Reads bytes [offset, offset + dst.length) of the object into `dst`, in
   * ranged GETs of at most `part_size` bytes, concurrently.
   */
  async read(obj: ObjectRef, offset: number, dst: Uint8Array, signal: AbortSignal): Promise<void> {
    if (dst.length === 0) return;
    const part = this.#opts.partSize;
    const group = linked(signal);
    const jobs: Promise<void>[] = [];
    for (let at = 0; at < dst.length; at += part) {
      const n = Math.min(part, dst.length - at);
      jobs.push(this.#getRange(obj, offset + at, dst.subarray(at, at + n), group.signal));
    }
    await settleAll(jobs, group);
  }

  /**
   * The whole object (empty if there is none), for a partial WRITE to patch;
   * NotSupportedError past `maxBytes`.
   */
  async readWhole(obj: ObjectRef, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
    const info = await this.head(obj, signal);
    if (!info) return Buffer.alloc(0);
    if (info.size > maxBytes) {
      throw new NotSupportedError(
        `a partial WRITE to ${obj.bucket}/${obj.key} would read and put back ${info.size} bytes, over rmw_max_bytes (${maxBytes})`,
        this.#ctx,
      );
    }
    const buf = Buffer.allocUnsafe(info.size);
    await this.read(obj, 0, buf, signal);
    return buf;
  }

  /** Size and identity of the object, or undefined if there is none. */
  async head(obj: ObjectRef, signal: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      const r = await this.#send(
        `HEAD ${obj.bucket}/${obj.key}`,
        (s) =>
          this.client.send(new HeadObjectCommand({ Bucket: obj.bucket, Key: obj.key }), {
            abortSignal: s,
          }),
        signal,
      );
      return { size: r.ContentLength ?? 0, etag: r.ETag, lastModified: r.LastModified };
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * Makes the object exactly `src`: one PUT, or a multipart upload from
   * `multipart_threshold` bytes (aborted if any part fails).
   */
  async write(obj: ObjectRef, src: Uint8Array, signal: AbortSignal): Promise<void> {
    const body = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
    if (body.length < this.#opts.multipartThreshold) {
      await this.#send(
        `PUT ${obj.bucket}/${obj.key} (${body.length} bytes)`,
        (s) =>
          this.client.send(
            new PutObjectCommand({
              Bucket: obj.bucket,
              Key: obj.key,
              Body: body,
              ContentLength: body.length,
            }),
            { abortSignal: s },
          ),
        signal,
      );
      return;
    }
    await this.#multipart(obj, body, signal);
  }

  destroy(): void {
    this.client.destroy();
  }

  async #multipart(obj: ObjectRef, body: Buffer, signal: AbortSignal): Promise<void> {
    const what = `multipart PUT ${obj.bucket}/${obj.key} (${body.length} bytes)`;
    const part = Math.max(this.#opts.partSize, Math.ceil(body.length / MAX_PARTS));
    const created = await this.#send(
      `${what}: create`,
      (s) =>
        this.client.send(new CreateMultipartUploadCommand({ Bucket: obj.bucket, Key: obj.key }), {
          abortSignal: s,
        }),
      signal,
    );
    const uploadId = created.UploadId;
    if (!uploadId)
      throw s3Error(new Error('the store returned no UploadId'), what, this.#ctx, false);
    const group = linked(signal);
    try {
      const etags: Promise<string>[] = [];
      for (let at = 0, n = 1; at < body.length; at += part, n++) {
        const chunk = body.subarray(at, Math.min(at + part, body.length));
        const partNumber = n;
        etags.push(
          this.#send(
            `${what}: part ${partNumber}`,
            (s) =>
              this.client.send(
                new UploadPartCommand({
                  Bucket: obj.bucket,
                  Key: obj.key,
                  UploadId: uploadId,
                  PartNumber: partNumber,
                  Body: chunk,
                  ContentLength: chunk.length,
                }),
                { abortSignal: s },
              ),
            group.signal,
          ).then((r) => r.ETag ?? ''),
        );
      }
      const tags = await settleAll(etags, group);
      await this.#send(
        `${what}: complete`,
        (s) =>
          this.client.send(
            new CompleteMultipartUploadCommand({
              Bucket: obj.bucket,
              Key: obj.key,
              UploadId: uploadId,
              MultipartUpload: { Parts: tags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
            }),
            { abortSignal: s },
          ),
        signal,
      );
    } catch (err) {
      // Best effort, bounded: the parts would otherwise stay billed on the store.
      this.client
        .send(
          new AbortMultipartUploadCommand({ Bucket: obj.bucket, Key: obj.key, UploadId: uploadId }),
          {
            abortSignal: AbortSignal.timeout(this.#opts.requestTimeoutMs),
          },
        )
        .catch(() => {});
      throw err;
    }
  }

  async #getRange(
    obj: ObjectRef,
    offset: number,
    dst: Uint8Array,
    signal: AbortSignal,
  ): Promise<void> {
    const end = offset + dst.length - 1;
    const what = `GET ${obj.bucket}/${obj.key} bytes ${offset}-${end}`;
    await this.#send(
      what,
      async (s) => {
        let r;
        try {
          r = await this.client.send(
            new GetObjectCommand({
              Bucket: obj.bucket,
              Key: obj.key,
              Range: `bytes=${offset}-${end}`,
            }),
            { abortSignal: s },
          );
        } catch (err) {
          if ((err as { name?: string }).name === 'InvalidRange') {
            throw new NotFoundError(`${what}: the object ends before byte ${offset}`, {
              ...this.#ctx,
              cause: err,
            });
          }
          throw err;
        }
        // Straight from the socket's chunks into registered memory; an abort
        // (timeout, a failed sibling, release) ends the body too.
        const body = r.Body as Readable;
        const stop = () => body.destroy(new Error('aborted'));
        s.addEventListener('abort', stop, { once: true });
        let at = 0;
        try {
          for await (const chunk of body) {
            const c = chunk as Buffer;
            if (at + c.length > dst.length) {
              (r.Body as Readable).destroy();
              throw new MismatchError(
                `${what}: the store sent more than ${dst.length} bytes`,
                this.#ctx,
              );
            }
            dst.set(c, at);
            at += c.length;
          }
        } finally {
          s.removeEventListener('abort', stop);
        }
        if (at !== dst.length) {
          const promised = r.ContentLength ?? at;
          // Fewer bytes than the response promised: the connection was cut.
          if (at < promised) {
            throw new RemoteDisconnectError(
              `${what}: the connection ended after ${at} of ${promised} bytes`,
              this.#ctx,
            );
          }
          throw new NotFoundError(
            `${what}: the store sent ${at} of ${dst.length} bytes (the object is shorter: ${r.ContentRange ?? 'no Content-Range'})`,
            this.#ctx,
          );
        }
      },
      signal,
    );
  }

  /**
   * Runs one request (retries included) under the concurrency limit, bounded
   * by `request_timeout_ms` from when it starts, aborted with `signal`.
   */
  async #send<T>(
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    try {
      return await this.#limit.run(async () => {
        signal.throwIfAborted();
        // A controller and a timer of its own (not AbortSignal.any/timeout, whose
        // combined signals Node 20 may collect before they fire).
        const bounded = linked(signal);
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          bounded.abort(new Error(`${what}: request timeout`));
        }, this.#opts.requestTimeoutMs);
        try {
          return await fn(bounded.signal);
        } catch (err) {
          throw s3Error(err, what, this.#ctx, timedOut && !signal.aborted);
        } finally {
          clearTimeout(timer);
          bounded.abort(); // detaches it from `signal`
        }
      }, signal);
    } catch (err) {
      if (err instanceof NixlError) throw err;
      // Aborted while waiting for a turn under the limit.
      throw new CanceledError(`${what}: aborted`, { ...this.#ctx, cause: err });
    }
  }
}

/** An AbortController that `parent` aborts too: one failed job stops its siblings. */
function linked(parent: AbortSignal): AbortController {
  const c = new AbortController();
  // Every request of a large transfer listens on its group's signal.
  setMaxListeners(0, c.signal);
  if (parent.aborted) c.abort(parent.reason);
  else
    parent.addEventListener('abort', () => c.abort(parent.reason), {
      once: true,
      signal: c.signal,
    });
  return c;
}

/**
 * All of `jobs`; on the first failure the group is aborted, and that failure
 * is thrown once every job has settled (nothing is left running).
 */
async function settleAll<T>(jobs: Promise<T>[], group: AbortController): Promise<T[]> {
  let first: { err: unknown } | undefined;
  const results = await Promise.all(
    jobs.map((j) =>
      j.catch((err: unknown) => {
        first ??= { err };
        group.abort(err);
        return undefined as T;
      }),
    ),
  );
  if (first) throw first.err;
  group.abort(); // detaches it from the parent
  return results;
}
