/**
 * What a same-host peer that dies mid-transfer leaves behind, per UCX setting:
 * can the survivor still exchange messages with a new agent on this host?
 *
 *   npx tsx bench/probes/dead-peer.ts [--rounds 8] [--sets tcp,shm-mm,shm-process]
 *
 * Each round runs in its own process (a survivor left stuck is not reused):
 * the survivor agent WRITEs 64 MiB to nixl-ts-bench's target process
 * (cli-target.ts), kills it with SIGKILL, waits for the transfer to fail, then creates a new
 * agent in its own process and sends a notification each way. A notification
 * that has not arrived after 3 s counts as lost. Everything stays on this host
 * (loopback and shared memory); the only process killed is the target this
 * script started.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import '../../src/polyfills.js';
import { Agent } from '../../src/agent.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { startCliTarget } from './cli-target.js';

const SETS: Record<string, Record<string, string>> = {
  tcp: { profile: 'tcp', devices: 'lo' },
  shm: { profile: 'shm', devices: 'lo' },
  'shm-mm': {
    profile: 'shm',
    devices: 'lo',
    config: 'MM_ERROR_HANDLING=y,KEEPALIVE_INTERVAL=250ms',
  },
  'shm-process': { profile: 'shm', devices: 'lo', errorHandling: 'process' },
};
const REGION = 64 << 20;
const ARRIVAL_MS = 3000;

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    sets: { type: 'string', default: 'tcp,shm-mm,shm-process' },
    one: { type: 'string' },
  },
});

interface RoundResult {
  failedAfterMs: number;
  survivorReceives: boolean;
  newReceives: boolean;
}

/** One round, in this process; prints its RoundResult as a `result` event line and exits. */
async function oneRound(params: Record<string, string>): Promise<void> {
  const s = await Agent.create({
    name: `survivor-${randomBytes(3).toString('hex')}`,
    backends: [{ type: 'UCX', params }],
  });
  const local = s.registerMem(s.alloc(REGION).buffer).descs.at(0);
  const victim = await startCliTarget('UCX', params, REGION);
  s.loadRemoteMD(victim.md);

  const req = s.createXferReq('WRITE', [local], [{ addr: victim.addr, len: REGION }], victim.name);
  s.postXferReq(req);
  victim.signal('SIGKILL');
  const killedAt = performance.now();
  // Repost until the death shows (a transfer may finish before the kill lands).
  for (let i = 0; i < 1000; i++) {
    try {
      await req.wait({ signal: AbortSignal.timeout(30_000) });
      s.postXferReq(req);
    } catch {
      break;
    }
  }
  const failedAfterMs = performance.now() - killedAt;

  const n = await Agent.create({
    name: `new-${randomBytes(3).toString('hex')}`,
    backends: [{ type: 'UCX', params }],
  });
  s.loadRemoteMD(n.getLocalMD());
  n.loadRemoteMD(s.getLocalMD());
  const arrives = (a: Agent, msg: string) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ARRIVAL_MS);
      a.on('notif', (_from, m) => {
        if (Buffer.from(m).toString() !== msg) return;
        clearTimeout(timer);
        resolve(true);
      });
    });
  const toSurvivor = arrives(s, 'to-survivor');
  const toNew = arrives(n, 'to-new');
  n.genNotif(s.name, 'to-survivor');
  s.genNotif(n.name, 'to-new');
  const result: RoundResult = {
    failedAfterMs,
    survivorReceives: await toSurvivor,
    newReceives: await toNew,
  };
  process.stdout.write(JSON.stringify({ event: 'result', ...result }) + '\n');
  // A stuck survivor may not close cleanly; the process ends here either way.
  process.exit(0);
}

/** Runs one round in a child process; undefined when it did not report in time. */
async function spawnRound(set: string): Promise<RoundResult | undefined> {
  const self = fileURLToPath(import.meta.url);
  const child = new JsonLineChild<JsonLineReply, RoundResult & { event: 'result' }>(
    self,
    `round ${set}`,
    {},
    { args: ['--one', set] },
  );
  try {
    const { event: _, ...result } = await child.nextEvent('result', 90_000);
    // The round exits by itself once it has reported.
    await child.waitForExit(10_000);
    return result;
  } catch {
    await child.kill();
    return undefined;
  }
}

if (args.one) {
  await oneRound(SETS[args.one]!);
} else {
  const rounds = Number(args.rounds);
  console.log(
    '| set | rounds | survivor receives from a new agent | new agent receives | death noticed after (median ms) |',
  );
  console.log('|---|---|---|---|---|');
  for (const set of args.sets!.split(',')) {
    if (!SETS[set]) throw new Error(`unknown set '${set}' (${Object.keys(SETS).join(', ')})`);
    const results: RoundResult[] = [];
    let missing = 0;
    for (let r = 0; r < rounds; r++) {
      const res = await spawnRound(set);
      if (res) results.push(res);
      else missing++;
    }
    const ms = results.map((x) => x.failedAfterMs).sort((a, b) => a - b);
    const med = ms.length ? ms[ms.length >> 1]!.toFixed(0) : '-';
    const ok = (f: (x: RoundResult) => boolean) => `${results.filter(f).length} of ${rounds}`;
    console.log(
      `| ${set} | ${rounds}${missing ? ` (${missing} did not report)` : ''} | ${ok((x) => x.survivorReceives)} | ${ok((x) => x.newReceives)} | ${med} |`,
    );
  }
}
