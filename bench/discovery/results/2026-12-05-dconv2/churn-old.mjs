import { generateKeyPairSync } from 'node:crypto';
const which = process.argv[2],
  n = Number(process.argv[3]);
function x25519() {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const pub = publicKey.export({ format: 'jwk' });
  const priv = privateKey.export({ format: 'jwk' });
  return {
    publicKey: new Uint8Array(Buffer.from(pub.x, 'base64url')),
    privateKey: new Uint8Array(Buffer.from(priv.d, 'base64url')),
    k: privateKey,
  };
}
function seed() {
  const { privateKey } = generateKeyPairSync('ed25519');
  return new Uint8Array(Buffer.from(privateKey.export({ format: 'jwk' }).d, 'base64url'));
}
const m = new WeakMap();
for (let i = 0; i < n; i++) {
  if (which !== 'seed') {
    const p = x25519();
    m.set(p.privateKey, p.k);
  }
  if (which !== 'x') seed();
}
console.log('done', n);
