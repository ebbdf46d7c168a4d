/**
 * READ and WRITE GB/s of the OBJ backend against a local S3-API server
 * (s3rver on 127.0.0.1, started here and stopped by its pid), beside the
 * plain AWS SDK (one PutObject / GetObject per object, no multipart) on the
 * same server in the same run. Each cell moves one object of the size
 * repeatedly: at most `--max-iters` times and `--max-seconds` seconds, at
 * least 3 times.
 *
 *   npx tsx bench/obj/bench.ts [--sizes 64K,1M,16M,64M] [--max-seconds 4] [--max-iters 40]
 *                              [--params concurrency=16,part_size=8388608]
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';
import { fillPattern } from '../../testing/pattern.js';
import { s3Client } from '../../test/s3/s3-objects.js';
import { S3Server } from '../../test/s3/s3-server.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64K,256K,1M,4M,16M,64M' },
    'max-seconds': { type: 'string', default: '4' },
    'max-iters': { type: 'string', default: '40' },
    params: { type: 'string', default: '' },
  },
});

function bytesOf(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}'`);
  return (
    Number(m[1]) *
    { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G']!
  );
}

const sizes = values.sizes.split(',').map(bytesOf);
const maxMs = Number(values['max-seconds']) * 1000;
const maxIters = Number(values['max-iters']);
const extra = Object.fromEntries(
  values.params
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split('=') as [string, string]),
);
const BUCKET = 'nixl-bench';

/** Runs `op` until the bounds; GB/s (1e9 bytes) over the iterations. */
async function measure(
  size: number,
  op: () => Promise<void>,
): Promise<{ gbps: number; iters: number }> {
  await op(); // warm-up: connections, the object in place
  let iters = 0;
  const t0 = performance.now();
  while (iters < 3 || (iters < maxIters && performance.now() - t0 < maxMs)) {
    await op();
    iters++;
  }
  const s = (performance.now() - t0) / 1000;
  return { gbps: (size * iters) / s / 1e9, iters };
}

const server = await S3Server.start({ buckets: [BUCKET] });
const agent = await Agent.create({
  name: `obj-bench-${process.pid}`,
  backends: [{ type: 'OBJ', params: { ...server.params(BUCKET), ...extra } }],
});
const sdk = s3Client(server);
try {
  const maxSize = Math.max(...sizes);
  const buf = agent.alloc(maxSize).buffer;
  fillPattern(buf, 1);
  const base = agent.registerMem(buf).descs.at(0).addr;
  const enc = new TextEncoder();
  console.log(
    `# OBJ vs plain SDK, s3rver on 127.0.0.1; ${cpus().length} cores, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(
        ' ',
      )}; OBJ params: ${JSON.stringify({ ...agent.getBackendParams('OBJ').params, access_key: undefined, secret_key: undefined, endpoint_override: undefined })}`,
  );
  console.log(
    '| size | OBJ WRITE GB/s | SDK PutObject GB/s | OBJ READ GB/s | SDK GetObject GB/s | iters (W/Put/R/Get) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  sizes.forEach((size, i) => {
    agent.registerMem(
      [{ addr: 0, len: size, devId: i + 1, metaInfo: enc.encode(`bench/obj-${size}`) }],
      {
        memType: 'OBJ',
      },
    );
  });
  for (const [i, size] of sizes.entries()) {
    const local = [{ addr: base, len: size, devId: 0 }];
    const remote = DescList.from('OBJ', [{ addr: 0n, len: size, devId: i + 1 }]);
    const body = buf.subarray(0, size);
    const w = await measure(size, () => agent.write(local, remote, agent.name));
    const put = await measure(size, async () => {
      await sdk.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `bench/sdk-${size}`,
          Body: body,
          ContentLength: size,
        }),
      );
    });
    const r = await measure(size, () => agent.read(local, remote, agent.name));
    const get = await measure(size, async () => {
      const res = await sdk.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: `bench/sdk-${size}` }),
      );
      await res.Body!.transformToByteArray();
    });
    const label = size >= 1024 ** 2 ? `${size / 1024 ** 2} MiB` : `${size / 1024} KiB`;
    const f = (x: number) => x.toFixed(3);
    console.log(
      `| ${label} | ${f(w.gbps)} | ${f(put.gbps)} | ${f(r.gbps)} | ${f(get.gbps)} | ${w.iters}/${put.iters}/${r.iters}/${get.iters} |`,
    );
  }
} finally {
  sdk.destroy();
  await agent.close();
  await server.stop();
}
