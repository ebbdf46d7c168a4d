/**
 * The OBJ backend's parameters: one table (see backends/common/param-table.ts)
 * from which the parser and the README table come. The names are NIXL's OBJ
 * plugin's where it has one (access_key, secret_key, session_token, bucket,
 * endpoint_override, scheme, region, use_virtual_addressing, req_checksum);
 * the rest are this port's.
 */
import type { BackendParams } from '../../src/backend.js';
import {
  integer,
  oneOf,
  onOff,
  paramDefaults,
  parseParamTable,
  text,
  type ParsedParams,
} from '../common/param-table.js';

const MiB = 1024 * 1024;

const bool = onOff('true', 'false');

const endpoint = (raw: string, fail: (want: string) => never): string => {
  if (raw === '') return '';
  // NIXL's endpoint_override may omit the scheme (then `scheme` says it).
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  try {
    const u = new URL(withScheme);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('an http(s) URL or host:port');
  } catch {
    fail('an http(s) URL or host:port');
  }
  return raw;
};

export const OBJ_PARAM_TABLE = {
  bucket: {
    field: 'bucket',
    default: '',
    defaultDoc: '(empty: `AWS_DEFAULT_BUCKET`)',
    doc: 'the bucket of every object registered without an `s3://bucket/key` metaInfo.',
    parse: text,
  },
  endpoint_override: {
    field: 'endpoint',
    default: '',
    defaultDoc: '(empty: AWS)',
    aliases: ['endpoint'],
    doc: 'the S3 endpoint of an S3-compatible store, `http://host:port` or `host:port` (then `scheme` applies).',
    parse: endpoint,
  },
  scheme: {
    field: 'scheme',
    default: 'https',
    doc: 'the scheme for an `endpoint_override` given without one.',
    parse: oneOf('http', 'https'),
  },
  region: {
    field: 'region',
    default: 'us-east-1',
    doc: 'the region requests are signed for.',
    parse: text,
  },
  access_key: {
    field: 'accessKey',
    default: '',
    defaultDoc: '(empty: the SDK chain)',
    doc: 'access key id; empty: the AWS SDK default credential chain (environment, profile, instance role).',
    parse: text,
  },
  secret_key: {
    field: 'secretKey',
    default: '',
    defaultDoc: '(empty)',
    doc: 'secret access key, given with `access_key`.',
    parse: text,
  },
  session_token: {
    field: 'sessionToken',
    default: '',
    defaultDoc: '(empty)',
    doc: 'session token for temporary credentials.',
    parse: text,
  },
  force_path_style: {
    field: 'forcePathStyle',
    default: 'true',
    doc: "path-style URLs (`endpoint/bucket/key`), what local S3-compatible stores want; `false`: virtual-hosted style. NIXL's `use_virtual_addressing` is its negation.",
    parse: bool,
  },
  use_virtual_addressing: {
    field: 'virtualAddressing',
    default: '',
    defaultDoc: '(empty)',
    doc: "NIXL's spelling: `true` is `force_path_style=false`, `false` is `force_path_style=true`; empty: `force_path_style` decides.",
    parse: (raw: string, fail: (want: string) => never) =>
      raw === '' ? undefined : bool(raw, fail),
  },
  req_checksum: {
    field: 'reqChecksum',
    default: 'required',
    doc: '`supported`: a CRC of every uploaded body is computed and checked by the store; `required`: only where an operation requires one (faster).',
    parse: oneOf('required', 'supported'),
  },
  concurrency: {
    field: 'concurrency',
    default: '16',
    doc: 'S3 requests in flight at once, all transfers of the backend together (the HTTP connection pool has as many sockets).',
    parse: integer(1, 1024),
  },
  multipart_threshold: {
    field: 'multipartThreshold',
    default: String(16 * MiB),
    doc: 'a PUT of at least this many bytes is a multipart upload.',
    parse: integer(5 * MiB, 2 ** 40),
  },
  part_size: {
    field: 'partSize',
    default: String(8 * MiB),
    doc: 'the part size of multipart uploads and of the ranged GETs a large READ is split into (raised for objects over 10,000 parts).',
    parse: integer(5 * MiB, 5 * 1024 * MiB),
  },
  request_timeout_ms: {
    field: 'requestTimeoutMs',
    default: '30000',
    doc: 'bound on one S3 request, retries included: past it the transfer fails with `RemoteDisconnectError`.',
    parse: integer(1, 3_600_000),
  },
  max_attempts: {
    field: 'maxAttempts',
    default: '3',
    doc: 'attempts per S3 request (the SDK retries throttling, 5xx and broken connections), within `request_timeout_ms`.',
    parse: integer(1, 10),
  },
  rmw_max_bytes: {
    field: 'rmwMaxBytes',
    default: String(1024 * MiB),
    doc: 'largest object a partial WRITE may read, patch and put back (see the README); a larger one is refused with `NotSupportedError`.',
    parse: integer(0, 2 ** 40),
  },
} as const;

export type ObjOptions = ParsedParams<typeof OBJ_PARAM_TABLE>;

export const DEFAULT_PARAMS: BackendParams = paramDefaults(OBJ_PARAM_TABLE);

export function parseParams(params: BackendParams): ObjOptions {
  const o = parseParamTable(OBJ_PARAM_TABLE, params, 'OBJ');
  if (o.virtualAddressing !== undefined) o.forcePathStyle = !o.virtualAddressing;
  if (o.bucket === '') o.bucket = process.env.AWS_DEFAULT_BUCKET ?? '';
  return o;
}

/** The endpoint URL the SDK gets: `endpoint_override` with `scheme` where it has none. */
export function endpointUrl(o: ObjOptions): string | undefined {
  if (o.endpoint === '') return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(o.endpoint) ? o.endpoint : `${o.scheme}://${o.endpoint}`;
}
