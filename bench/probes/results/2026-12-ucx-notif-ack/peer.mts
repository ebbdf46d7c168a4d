// A UCX agent from the tree at argv[2] (its src/agent.ts), driven by lines on stdin:
//   md                 -> its metadata (base64)
//   load <base64>      -> loads a peer's metadata, answers its name
//   write <name> <n>   -> n WRITEs of 64 KiB with notifications to <name>, awaited one by one
//   take               -> how many notifications getNotifs returns now
import { createInterface } from 'node:readline';
const root = process.argv[2]!;
const { Agent } = await import(`${root}/src/agent.ts`);
const agent = await Agent.create({
  name: process.argv[3]!,
  backends: [{ type: 'UCX', params: { profile: 'tcp', devices: 'lo' } }],
});
const buf = agent.alloc(1 << 20).buffer;
const reg = agent.registerMem(buf);
const remotes = new Map<string, bigint>();
const say = (s: string) => process.stdout.write(s + '\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, a, b] = line.split(' ');
  if (cmd === 'md')
    say(Buffer.from(agent.getLocalMD()).toString('base64') + ' ' + reg.descs.at(0).addr);
  else if (cmd === 'load') {
    const name = agent.loadRemoteMD(Buffer.from(a!, 'base64'));
    remotes.set(name, BigInt(b!));
    say(name);
  } else if (cmd === 'write') {
    const [name, n] = [a!, Number(b)];
    const local = [{ addr: reg.descs.at(0).addr, len: 65536 }];
    const remote = [{ addr: remotes.get(name)!, len: 65536 }];
    for (let i = 0; i < n; i++) await agent.write(local, remote, name, { notif: `n${i}` });
    say('ok');
  } else if (cmd === 'take') {
    let count = 0;
    for (const [, msgs] of agent.getNotifs()) count += msgs.length;
    say(String(count));
  } else if (cmd === 'quit') break;
}
await agent.close();
process.exit(0);
