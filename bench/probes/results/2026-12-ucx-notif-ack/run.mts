// Old (main's tree) and new (wt-flake) UCX agents, each way: WRITEs with notifications, one
// at a time; after each DONE the target's getNotifs (how many were there at DONE), then all.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
function peer(root: string, name: string) {
  const c = spawn(
    process.execPath,
    ['--import', 'tsx', '/tmp/ucxnotif/xver/peer.mts', root, name],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      cwd: root,
    },
  );
  const lines = createInterface({ input: c.stdout! })[Symbol.asyncIterator]();
  const ask = async (s: string) => {
    c.stdin!.write(s + '\n');
    return (await lines.next()).value as string;
  };
  return { ask, c };
}
const OLD = '/work/main',
  NEW = '/work/wt-flake';
for (const [ini, tgt] of [
  [NEW, OLD],
  [OLD, NEW],
  [NEW, NEW],
]) {
  const i = peer(ini!, 'init'),
    t = peer(tgt!, 'tgt');
  const [tmd, taddr] = (await t.ask('md')).split(' ');
  const [imd, iaddr] = (await i.ask('md')).split(' ');
  await i.ask(`load ${tmd} ${taddr}`);
  await t.ask(`load ${imd} ${iaddr}`);
  let atDone = 0,
    total = 0;
  const N = 200;
  for (let k = 0; k < N; k++) {
    await i.ask('write tgt 1');
    const n = Number(await t.ask('take'));
    atDone += n;
    total += n;
  }
  for (let k = 0; k < 50 && total < N; k++) {
    await new Promise((r) => setTimeout(r, 20));
    total += Number(await t.ask('take'));
  }
  console.log(
    JSON.stringify({
      initiator: ini === OLD ? 'main' : 'new',
      target: tgt === OLD ? 'main' : 'new',
      writes: N,
      atDone,
      received: total,
    }),
  );
  i.c.stdin!.write('quit\n');
  t.c.stdin!.write('quit\n');
  await Promise.all([new Promise((r) => i.c.on('exit', r)), new Promise((r) => t.c.on('exit', r))]);
}
