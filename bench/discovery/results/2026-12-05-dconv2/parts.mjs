import { generateKeyPairSync, createPrivateKey, createPublicKey } from 'node:crypto';
const n = 2000,
  time = (name, f) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) f();
    console.log(name, (Number(process.hrtime.bigint() - t0) / 1e3 / n).toFixed(1), 'µs');
  };
const jwk = generateKeyPairSync('x25519', {
  publicKeyEncoding: { format: 'jwk' },
  privateKeyEncoding: { format: 'jwk' },
});
time('gen jwk-encoded', () =>
  generateKeyPairSync('x25519', {
    publicKeyEncoding: { format: 'jwk' },
    privateKeyEncoding: { format: 'jwk' },
  }),
);
time('gen priv-jwk only', () =>
  generateKeyPairSync('x25519', { privateKeyEncoding: { format: 'jwk' } }),
);
time('import priv jwk', () => createPrivateKey({ key: jwk.privateKey, format: 'jwk' }));
const k = createPrivateKey({ key: jwk.privateKey, format: 'jwk' });
time('pub from imported priv + export', () => createPublicKey(k).export({ format: 'jwk' }).x);
