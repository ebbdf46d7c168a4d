// Run: flock /tmp/bench.lock npx tsx bench/probes/results/2026-12-ucx-auth/hello-crypto-cost.ts
// Cost of refusing a HELLO whose signature does not verify, under a real key (OpenSSL via node:crypto).
import {
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  diffieHellman,
  hkdfSync,
} from 'node:crypto';
const id = generateKeyPairSync('ed25519');
const msg = randomBytes(17 + 32 * 4 + 8 + 40);
const good = sign(null, msg, id.privateKey);
const bad = Buffer.from(good);
bad[0] ^= 1; // in range: the whole check runs
const a = generateKeyPairSync('x25519'),
  b = generateKeyPairSync('x25519');
const N = 3000;
for (const [what, fn] of [
  ['ed25519 verify, bad sig', () => verify(null, msg, id.publicKey, bad)],
  ['ed25519 verify, good sig', () => verify(null, msg, id.publicKey, good)],
  [
    'x25519 + hkdf',
    () =>
      hkdfSync(
        'sha256',
        diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey }),
        'l',
        msg,
        32,
      ),
  ],
] as const) {
  const t = performance.now();
  for (let i = 0; i < N; i++) (fn as () => unknown)();
  console.log(what, (((performance.now() - t) / N) * 1000).toFixed(1), 'us');
}
