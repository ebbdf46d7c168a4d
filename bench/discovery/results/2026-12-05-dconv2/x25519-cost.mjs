import { generateKeyPairSync, createPrivateKey, randomBytes } from 'node:crypto';
const which = process.argv[2];
const n = Number(process.argv[3] ?? 3000);
function old() {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const pub = publicKey.export({ format: 'jwk' });
  const priv = privateKey.export({ format: 'jwk' });
  return [pub.x, priv.d, privateKey];
}
function neu() {
  const { privateKey, publicKey } = generateKeyPairSync('x25519', {
    publicKeyEncoding: { format: 'jwk' },
    privateKeyEncoding: { format: 'jwk' },
  });
  return [publicKey.x, privateKey.d, createPrivateKey({ key: privateKey, format: 'jwk' })];
}
function der() {
  const { privateKey, publicKey } = generateKeyPairSync('x25519', {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  const x = publicKey.subarray(12).toString('base64url'),
    d = privateKey.subarray(16).toString('base64url');
  return [x, d, createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x }, format: 'jwk' })];
}
function seedOld() {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'jwk' }).d;
}
function seedNew() {
  return randomBytes(32);
}
const f = { old, neu, der, seedOld, seedNew }[which];
// Old variants deadlock after a few thousand calls: count how many finish in the time given.
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) f();
console.log(which, (Number(process.hrtime.bigint() - t0) / 1e3 / n).toFixed(1), 'µs/call');
