// How long ucx_perftest's server takes to listen: its port in LISTEN state in /proc/net/tcp.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
const listening = (port) => {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(':' + hex) && f[3] === '0A';
    });
};
const out = [];
for (let i = 0; i < Number(process.argv[2] ?? 10); i++) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const t0 = performance.now();
  const c = spawn('ucx_perftest', ['-p', String(port)], {
    env: { ...process.env, UCX_TLS: 'tcp', UCX_NET_DEVICES: 'lo' },
    stdio: 'ignore',
  });
  while (!listening(port) && performance.now() - t0 < 10000)
    await new Promise((r) => setTimeout(r, 2));
  out.push(Math.round(performance.now() - t0));
  c.kill('SIGKILL');
  await new Promise((r) => c.on('exit', r));
}
console.log(JSON.stringify(out));
