// accept-per-turn-k.py's child: one net.Server per inherited listening fd
// (their numbers as arguments), all with one 'connection' handler; 60 connections from another
// process (Python) wait in the accept queue(s) while the loop is blocked, then a
// setImmediate chain counts the accepts between iterations for 300 ms.
// Loopback only. Usage: node accept-per-turn-k.mjs MODE FD...
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [mode, ...fds] = process.argv.slice(2).map((a, i) => (i ? Number(a) : a));
const k = fds.length;
let accepted = 0;
const seen = [];
const onSocket = (s) => {
  accepted++;
  s.destroy();
};
const servers = [];
for (let i = 0; i < k; i++) {
  const server = net.createServer(onSocket);
  await new Promise((r) => server.listen({ fd: fds[i] }, r));
  servers.push(server);
}
const port = servers[0].address().port;
const client = spawn(
  'python3',
  [
    '-c',
    `import socket,time\nss=[socket.create_connection(('127.0.0.1',${port})) for i in range(60)]\ntime.sleep(2)`,
  ],
  { stdio: 'inherit' },
);
// Blocked until all 60 wait in the kernel's queue(s) (at most 5 s): the
// listening sockets' rx_queue in /proc/net/tcp is their accept queue length.
const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
const queued = () =>
  readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[1]?.endsWith(`:${hexPort}`) && c[3] === '0A')
    .reduce((n, c) => n + parseInt(c[4].split(':')[1], 16), 0);
const blocked = Date.now();
while (queued() < 60 && Date.now() - blocked < 5000) {}
const queues = queued();
const t0 = Date.now();
let iterations = 0;
const tick = () => {
  iterations++;
  if (accepted) seen.push(accepted);
  accepted = 0;
  if (Date.now() - t0 < 300) return setImmediate(tick);
  const total = seen.reduce((a, b) => a + b, 0);
  const hist = {};
  for (const n of seen) hist[n] = (hist[n] ?? 0) + 1;
  console.log(
    `${process.version} (libuv ${process.versions.uv}) ${mode} K=${k}: ${queues} queued, ${total} accepted ` +
      `in ${seen.length} of ${iterations} iterations; accepts per iteration that accepted: ` +
      JSON.stringify(hist),
  );
  client.kill();
  process.exit(0);
};
setImmediate(tick);
