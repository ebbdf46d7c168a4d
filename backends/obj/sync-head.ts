/**
 * The agent's queryMem is synchronous (NIXL's is), and an S3 HEAD is not: a
 * worker thread with its own S3 client makes the HEADs while the caller waits
 * on a shared word (Atomics.wait), bounded by the request timeout. The worker
 * starts on the first query and never keeps the process alive.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';

import { BackendError, RemoteDisconnectError, type ErrorContext } from '../../src/errors.js';
import type { ObjectRef } from './s3-store.js';

/** What the worker's client is made from: plain data. */
export interface HeadClientConfig {
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  maxAttempts: number;
  timeoutMs: number;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export type HeadResult =
  | { found: true; size: number; etag?: string; lastModified?: string }
  | { found: false }
  | { error: string; name: string; code?: string; http?: number };

// CommonJS, run with eval: it needs no file of its own next to the compiled code.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let client, HeadObjectCommand, startError;
try {
  const sdk = require(workerData.sdk);
  HeadObjectCommand = sdk.HeadObjectCommand;
  const c = workerData.config;
  client = new sdk.S3Client({
    region: c.region, endpoint: c.endpoint, forcePathStyle: c.forcePathStyle, maxAttempts: c.maxAttempts,
    credentials: c.credentials, requestHandler: { connectionTimeout: c.timeoutMs, requestTimeout: c.timeoutMs },
  });
} catch (e) {
  startError = { error: 'the HEAD worker could not load the S3 client: ' + String(e?.message ?? e), name: 'Error' };
}
async function head(r, timeoutMs) {
  if (startError) return startError;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const h = await client.send(new HeadObjectCommand({ Bucket: r.bucket, Key: r.key }), { abortSignal: ac.signal });
    return { found: true, size: h.ContentLength ?? 0, etag: h.ETag, lastModified: h.LastModified?.toISOString() };
  } catch (e) {
    if (e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404) return { found: false };
    return { error: String(e?.message ?? e), name: ac.signal.aborted ? 'TimeoutError' : String(e?.name ?? 'Error'), code: e?.code, http: e?.$metadata?.httpStatusCode };
  } finally {
    clearTimeout(timer);
  }
}
parentPort.on('message', async ({ refs, port, word }) => {
  const flag = new Int32Array(word);
  const out = await Promise.all(refs.map((r) => head(r, workerData.config.timeoutMs)));
  port.postMessage(out);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

export class SyncHead {
  readonly #config: HeadClientConfig;
  #worker?: Worker;

  constructor(config: HeadClientConfig) {
    this.#config = config;
  }

  /** HEAD of each object, waiting at most the request timeout (plus a second for the thread). */
  head(refs: readonly ObjectRef[], ctx: ErrorContext): HeadResult[] {
    if (refs.length === 0) return [];
    this.#worker ??= this.#start();
    const word = new SharedArrayBuffer(4);
    const flag = new Int32Array(word);
    const { port1, port2 } = new MessageChannel();
    try {
      this.#worker.postMessage(
        { refs: refs.map((r) => ({ bucket: r.bucket, key: r.key })), port: port2, word },
        [port2],
      );
      // The first query also waits for the worker to load the SDK.
      const bound = this.#config.timeoutMs + 10_000;
      if (Atomics.wait(flag, 0, 0, bound) === 'timed-out') {
        throw new RemoteDisconnectError(
          `queryMem: the object store did not answer within ${bound} ms`,
          ctx,
        );
      }
      const msg = receiveMessageOnPort(port1);
      if (!msg) throw new BackendError('queryMem: the HEAD worker sent no answer', ctx);
      return msg.message as HeadResult[];
    } finally {
      port1.close();
    }
  }

  close(): void {
    void this.#worker?.terminate();
    this.#worker = undefined;
  }

  #start(): Worker {
    const sdk = createRequire(import.meta.url).resolve('@aws-sdk/client-s3');
    // execArgv: [] so that the process's loader flags (--input-type=module, --import)
    // do not change how the CommonJS source above is run.
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { sdk, config: this.#config },
    });
    w.unref();
    return w;
  }
}
