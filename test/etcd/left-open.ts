/**
 * A script that uses the etcd plugin the way a user's would, for the
 * process-lifetime tests: two agents with etcd discovery find each other,
 * move data (verified), and then are closed or left open. Prints one JSON
 * line: when the work ended, and what was checked.
 *
 * argv: endpoint, mode, [holdMs]
 *  close        close() both agents at the end
 *  open         leave both open (the process must still exit by itself)
 *  worker-open  the same as open, inside a worker thread that then ends
 *  worker-close the same as close, inside a worker thread
 * holdMs (open only): keep the process busy this long after the work (a
 *   ref'd timer of the script's own), then check that etcd still holds the
 *   agents' keys: the lease keep-alive ran while the plugin's handles were
 *   unref'd.
 */
import '../../src/polyfills.js';

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { Etcd3 } from 'etcd3';

import { Agent } from '../../src/agent.js';
import { etcd } from '../../plugins/etcd/index.js';
import { fillPattern, verifyPattern } from '../../testing/pattern.js';

interface Args {
  endpoint: string;
  mode: string;
  holdMs: number;
}

const TTL_S = 2;
const NS = `/nixl-left-open-${process.pid}/`;

async function work({ endpoint, mode, holdMs }: Args): Promise<Record<string, unknown>> {
  const opts = { endpoints: [endpoint], namespace: NS, ttlSeconds: TTL_S };
  const tcp = [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }];
  const target = await Agent.create({ name: 'target', backends: tcp, discovery: etcd(opts) });
  const initiator = await Agent.create({ name: 'initiator', backends: tcp, discovery: etcd(opts) });
  const size = 1 << 20;
  const dstBuf = target.alloc(size).buffer;
  const srcBuf = initiator.alloc(size).buffer;
  const dst = target.registerMem(dstBuf);
  const src = initiator.registerMem(srcBuf);
  // The registration reaches the initiator through etcd (partial metadata).
  const deadline = Date.now() + 20_000;
  while (!initiator.checkRemoteMD('target', dst.descs)) {
    if (Date.now() > deadline) throw new Error('the target registration never arrived');
    await new Promise((r) => setTimeout(r, 20));
  }
  fillPattern(srcBuf, 7);
  await initiator.write(src.descs, dst.descs, 'target', { notif: 'done' });
  const mismatch = verifyPattern(dstBuf, 7);
  const out: Record<string, unknown> = { verified: mismatch === undefined, namespace: NS };
  if (mode.endsWith('close')) {
    await initiator.close();
    await target.close();
  } else if (holdMs > 0) {
    await new Promise((r) => setTimeout(r, holdMs));
    const c = new Etcd3({ hosts: endpoint });
    try {
      out.keysAfterHold = (await c.getAll().prefix(NS).keys()).sort();
    } finally {
      c.close();
    }
  }
  out.workDoneAt = Date.now();
  return out;
}

if (isMainThread) {
  const [endpoint = '', mode = 'open', holdMs = '0'] = process.argv.slice(2);
  const args: Args = { endpoint, mode, holdMs: Number(holdMs) };
  if (mode.startsWith('worker')) {
    // The worker loads this file through tsx, as the main thread does.
    const self = JSON.stringify(import.meta.url);
    const worker = new Worker(
      `import('tsx/esm/api').then((m) => { m.register(); return import(${self}); })`,
      { eval: true, workerData: args },
    );
    let result: Record<string, unknown> = {};
    worker.on('message', (m) => (result = m));
    worker.on('error', (e) => (result.error = e.message));
    worker.on('exit', (code) => console.log(JSON.stringify({ ...result, workerExit: code })));
  } else {
    console.log(JSON.stringify(await work(args)));
  }
} else {
  parentPort!.postMessage(await work(workerData as Args));
}
