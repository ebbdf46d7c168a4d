// How many queued connections Node accepts per event-loop iteration: 60
// connections from another process (Python) wait in the server's accept queue
// while the loop is blocked; then a setImmediate chain counts the accepts
// between iterations, for 300 ms. Loopback only.
// Usage: node accept-per-turn.mjs
import net from 'node:net';
import { spawn, execSync } from 'node:child_process';

let accepted = 0;
const seen = [];
const server = net.createServer((s) => {
  accepted++;
  s.destroy();
});
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const client = spawn(
    'python3',
    [
      '-c',
      `import socket,time\nss=[socket.create_connection(('127.0.0.1',${port})) for i in range(60)]\ntime.sleep(2)`,
    ],
    { stdio: 'inherit' },
  );
  const blocked = Date.now();
  while (Date.now() - blocked < 800) {}
  console.log('kernel accept queue:', execSync(`ss -ltnH 'sport = :${port}'`).toString().trim());
  const t0 = Date.now();
  let iterations = 0;
  const tick = () => {
    iterations++;
    if (accepted) seen.push(accepted);
    accepted = 0;
    if (Date.now() - t0 < 300) return setImmediate(tick);
    const total = seen.reduce((a, b) => a + b, 0);
    console.log(
      `${process.version} (libuv ${process.versions.uv}): ${total} accepted in ${seen.length} of ` +
        `${iterations} iterations; per iteration that accepted: max ${Math.max(...seen)}`,
    );
    client.kill();
    process.exit(0);
  };
  setImmediate(tick);
});
