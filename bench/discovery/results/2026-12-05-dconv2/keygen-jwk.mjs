import { generateKeyPairSync } from 'node:crypto';
const n = Number(process.argv[2] ?? 200000);
const t0 = Date.now();
for (let i = 1; i <= n; i++) {
  const { privateKey } = generateKeyPairSync('ed25519');
  privateKey.export({ format: 'jwk' });
  if (i % 1000 === 0) process.stdout.write(`${i} ${Date.now() - t0} ms\n`);
  if (Date.now() - t0 > 40000) break;
}
process.stdout.write('done\n');
