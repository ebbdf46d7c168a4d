/**
 * Starts a prefill and a decode process and wires them together: prefill's
 * control lines (its seed address or metadata, then requests) go to decode's
 * stdin. By default decode finds prefill through the gossip discovery
 * plugin, seeded with prefill's address; --side-channel sends prefill's
 * metadata blob over the pipe instead.
 *
 *   npx tsx examples/disagg/run.ts [--requests 200] [--concurrency 4] [--decode-arrangement layer] [--side-channel]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { CLUSTER_KEY_ENV, generateClusterKey } from '../../plugins/gossip/cluster-key.js';
import { DEFAULT_CONFIG, type ControlMessage, type DisaggConfig } from './config.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    'decode-arrangement': { type: 'string' },
    'timeout-s': { type: 'string', default: '300' },
    'side-channel': { type: 'boolean', default: false },
  },
});
const cfg: DisaggConfig = {
  ...DEFAULT_CONFIG,
  requests: Number(args.requests ?? DEFAULT_CONFIG.requests),
  concurrency: Number(args.concurrency ?? DEFAULT_CONFIG.concurrency),
  discovery: !args['side-channel'],
  decode: {
    ...DEFAULT_CONFIG.decode,
    arrangement: (args['decode-arrangement'] ??
      DEFAULT_CONFIG.decode.arrangement) as DisaggConfig['decode']['arrangement'],
  },
};

// The discovery's cluster key: both sides take it from the environment
// (NIXL_TS_CLUSTER_KEY); a fresh one for this run unless one is set already.
const env = {
  ...process.env,
  [CLUSTER_KEY_ENV]: process.env[CLUSTER_KEY_ENV] || generateClusterKey(),
};

function start(script: string, stdin: 'pipe' | 'ignore', config: DisaggConfig = cfg): ChildProcess {
  const path = fileURLToPath(new URL(script, import.meta.url));
  return spawn(process.execPath, ['--import', 'tsx', path, JSON.stringify(config)], {
    stdio: [stdin, 'pipe', 'inherit'],
    env,
  });
}

const exited = (c: ChildProcess) =>
  new Promise<number>((resolve) => c.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));

const prefill = start('./prefill.ts', 'ignore');
const prefillExit = exited(prefill);
let decode: ChildProcess | undefined;
let resolveDecodeExit!: (code: number) => void;
const decodeExit = new Promise<number>((resolve) => (resolveDecodeExit = resolve));
// Decode starts at once with the side channel, or once prefill names its seed address.
function startDecode(config: DisaggConfig): ChildProcess {
  const child = start('./decode.ts', 'pipe', config);
  exited(child).then(resolveDecodeExit);
  createInterface({ input: child.stdout! }).on('line', (l) => console.log(l));
  return child;
}
if (!cfg.discovery) decode = startDecode(cfg);
const timer = setTimeout(
  () => {
    console.error(`run: still running after ${args['timeout-s']} s; stopping both`);
    prefill.kill('SIGKILL');
    decode?.kill('SIGKILL');
  },
  Number(args['timeout-s']) * 1000,
);

createInterface({ input: prefill.stdout! }).on('line', (line) => {
  const m = JSON.parse(line) as ControlMessage;
  if (m.type === 'summary') {
    console.log(
      `prefill: ${m.released} requests released after decode's notification, ${m.failed} by timeout; ` +
        `${m.freeBlocks}/${m.totalBlocks} blocks free at the end`,
    );
    if (m.failed > 0 || m.freeBlocks !== m.totalBlocks) process.exitCode = 1;
    return;
  }
  if (m.type === 'seed') {
    console.log(
      `run: prefill '${m.name}' runs discovery at ${m.addr}; decode starts with that one seed`,
    );
    decode = startDecode({ ...cfg, seed: { name: m.name, addr: m.addr } });
    return;
  }
  if (m.type === 'metadata')
    console.log(`run: prefill published ${(m.md.length * 0.75) | 0} bytes of metadata`);
  if (decode?.stdin!.writable) decode.stdin!.write(line + '\n');
  if (m.type === 'end') decode?.stdin!.end();
});

const [p, d] = await Promise.all([prefillExit, decodeExit]);
clearTimeout(timer);
if (p !== 0 || d !== 0) {
  console.error(`run: prefill exited ${p}, decode exited ${d}`);
  process.exitCode = 1;
}
