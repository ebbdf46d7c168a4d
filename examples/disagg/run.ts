/**
 * Starts a prefill and a decode process and wires them together: prefill's
 * control lines (its seed address or metadata, then requests) go to decode's
 * stdin. By default decode finds prefill through the gossip discovery
 * plugin, seeded with prefill's address; --side-channel sends prefill's
 * metadata blob over the pipe instead.
 *
 *   npx tsx examples/disagg/run.ts [--requests 200] [--concurrency 4] [--decode-arrangement layer] [--side-channel]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { CLUSTER_KEY_ENV, generateClusterKey } from '../../plugins/gossip/cluster-key.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
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
const env = { [CLUSTER_KEY_ENV]: process.env[CLUSTER_KEY_ENV] || generateClusterKey() };

/**
 * A side in its own process: prefill's stdout lines are all control
 * messages (events named by `type`); decode's are a plain-text report,
 * passed on to ours.
 */
function start(
  side: 'prefill' | 'decode',
  config: DisaggConfig,
): JsonLineChild<JsonLineReply, ControlMessage> {
  const script = fileURLToPath(new URL(`./${side}.ts`, import.meta.url));
  return new JsonLineChild(script, side, env, {
    args: [JSON.stringify(config)],
    stderr: 'inherit',
    eventField: 'type',
    textLine: (l) => console.log(l),
  });
}

/** The exit code, 128 for a signal. */
const exitCode = (c: JsonLineChild<JsonLineReply, ControlMessage>) =>
  c.exited.then((code) => code ?? 128);

const prefill = start('prefill', cfg);
let decode: JsonLineChild<JsonLineReply, ControlMessage> | undefined;
let resolveDecodeExit!: (code: number) => void;
const decodeExit = new Promise<number>((resolve) => (resolveDecodeExit = resolve));
// Decode starts at once with the side channel, or once prefill names its seed address.
function startDecode(config: DisaggConfig): JsonLineChild<JsonLineReply, ControlMessage> {
  const child = start('decode', config);
  exitCode(child).then(resolveDecodeExit);
  return child;
}
if (!cfg.discovery) decode = startDecode(cfg);
const timer = setTimeout(
  () => {
    console.error(`run: still running after ${args['timeout-s']} s; stopping both`);
    prefill.signal('SIGKILL');
    decode?.signal('SIGKILL');
  },
  Number(args['timeout-s']) * 1000,
);

prefill.onEvent((m) => {
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
  if (decode?.running) decode.post(m);
  if (m.type === 'end') decode?.endInput();
});

const [p, d] = await Promise.all([exitCode(prefill), decodeExit]);
clearTimeout(timer);
if (p !== 0 || d !== 0) {
  console.error(`run: prefill exited ${p}, decode exited ${d}`);
  process.exitCode = 1;
}
