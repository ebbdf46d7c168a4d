/**
 * Starts a prefill and a decode process and wires them together: prefill's
 * control lines (metadata, then requests) go to decode's stdin. Discovery
 * is not on main yet, so this pipe is the side channel.
 *
 *   npx tsx examples/disagg/run.ts [--requests 200] [--concurrency 4] [--decode-arrangement layer]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { DEFAULT_CONFIG, type ControlMessage, type DisaggConfig } from './config.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    'decode-arrangement': { type: 'string' },
    'timeout-s': { type: 'string', default: '300' },
  },
});
const cfg: DisaggConfig = {
  ...DEFAULT_CONFIG,
  requests: Number(args.requests ?? DEFAULT_CONFIG.requests),
  concurrency: Number(args.concurrency ?? DEFAULT_CONFIG.concurrency),
  decode: {
    ...DEFAULT_CONFIG.decode,
    arrangement: (args['decode-arrangement'] ??
      DEFAULT_CONFIG.decode.arrangement) as DisaggConfig['decode']['arrangement'],
  },
};

function start(script: string, stdin: 'pipe' | 'ignore'): ChildProcess {
  const path = fileURLToPath(new URL(script, import.meta.url));
  return spawn(process.execPath, ['--import', 'tsx', path, JSON.stringify(cfg)], {
    stdio: [stdin, 'pipe', 'inherit'],
  });
}

const exited = (c: ChildProcess) =>
  new Promise<number>((resolve) => c.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));

const prefill = start('./prefill.ts', 'ignore');
const decode = start('./decode.ts', 'pipe');
const prefillExit = exited(prefill);
const decodeExit = exited(decode);
const timer = setTimeout(
  () => {
    console.error(`run: still running after ${args['timeout-s']} s; stopping both`);
    prefill.kill('SIGKILL');
    decode.kill('SIGKILL');
  },
  Number(args['timeout-s']) * 1000,
);

createInterface({ input: decode.stdout! }).on('line', (l) => console.log(l));
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
  if (m.type === 'metadata')
    console.log(`run: prefill published ${(m.md.length * 0.75) | 0} bytes of metadata`);
  if (decode.stdin!.writable) decode.stdin!.write(line + '\n');
  if (m.type === 'end') decode.stdin!.end();
});

const [p, d] = await Promise.all([prefillExit, decodeExit]);
clearTimeout(timer);
if (p !== 0 || d !== 0) {
  console.error(`run: prefill exited ${p}, decode exited ${d}`);
  process.exitCode = 1;
}
