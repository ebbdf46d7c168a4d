/**
 * Two processes, two agents, metadata over a pipe: no discovery, no shared files.
 *
 *   node main.mjs            the initiator; it starts the target (this file, role
 *                            'target') as a child and talks to it over stdin/stdout
 *
 * The target registers 1 MiB and prints its metadata (one JSON line, base64).
 * The initiator loads it, finds the target's region with getRemoteRegions,
 * WRITEs 64 KiB into a sub-range of it (offset 4 KiB) with a notification,
 * the target hashes what arrived and answers over the pipe, the initiator
 * READs the same sub-range back and compares. Exit code 0 means every byte
 * matched on both sides.
 *
 * In a project that installed nixl-ts: copy this file and run `node main.mjs`.
 * In this repository: `npm run build` first (the file imports 'nixl-ts').
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Agent } from 'nixl-ts';

const REGION = 1024 * 1024;
const OFFSET = 4096;
const LENGTH = 64 * 1024;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Reads JSON lines from a stream, one message per call. */
function lines(stream) {
  const it = createInterface({ input: stream })[Symbol.asyncIterator]();
  return async () => {
    const { value, done } = await it.next();
    if (done) throw new Error('the other process closed the pipe');
    return JSON.parse(value);
  };
}

async function target() {
  const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
  const next = lines(process.stdin);
  const agent = await Agent.create({ name: 'target', backends: ['TCP'] });
  const mem = agent.alloc(REGION);
  agent.registerMem(mem.buffer);
  send({ md: Buffer.from(agent.getLocalMD()).toString('base64') });

  // The notification arrives only after the written bytes are visible here.
  const [from, msg] = await once(agent, 'notif');
  const { offset, length } = JSON.parse(Buffer.from(msg).toString());
  send({ from, hash: sha256(mem.buffer.subarray(offset, offset + length)) });

  await next(); // 'bye': the initiator has read back what it needed
  await agent.close();
}

async function initiator() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'target'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const next = lines(child.stdout);
  const send = (msg) => child.stdin.write(JSON.stringify(msg) + '\n');

  const agent = await Agent.create({ name: 'initiator', backends: ['TCP'] });
  const { md } = await next();
  const peer = agent.loadRemoteMD(Buffer.from(md, 'base64'));

  // Address the peer's memory: its registered regions, in its own address space.
  const [region] = agent.getRemoteRegions(peer);
  const remote = [{ addr: region.addr + BigInt(OFFSET), len: LENGTH }];

  const src = agent.alloc(LENGTH);
  for (let i = 0; i < LENGTH; i++) src.buffer[i] = (i * 31 + 7) & 0xff;
  const srcReg = agent.registerMem(src.buffer);
  const notif = JSON.stringify({ offset: OFFSET, length: LENGTH });
  await agent.write(srcReg.descs, remote, peer, { notif });
  const reply = await next();

  const back = agent.alloc(LENGTH);
  const backReg = agent.registerMem(back.buffer);
  await agent.read(backReg.descs, remote, peer);

  const sent = sha256(src.buffer);
  const ok = reply.from === agent.name && reply.hash === sent && sha256(back.buffer) === sent;
  console.log(
    `WRITE ${LENGTH} B at +${OFFSET} of '${peer}': target saw ${reply.hash.slice(0, 16)} (notified by '${reply.from}'); ` +
      `READ back ${sha256(back.buffer).slice(0, 16)}; sent ${sent.slice(0, 16)}: ${ok ? 'verified' : 'MISMATCH'}`,
  );
  send('bye');
  child.stdin.end();
  const [code] = await exited;
  await agent.close();
  process.exitCode = ok && code === 0 ? 0 : 1;
}

await (process.argv[2] === 'target' ? target() : initiator());
