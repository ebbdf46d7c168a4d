// ChaCha20-Poly1305 seal/open: as-chacha20poly1305 (WebAssembly, stock noise below 1200 bytes) against
// node:crypto, and xsalsa20 (the private network), CPU µs per call by message size.
// Run from the repository root: node bench/discovery/results/2026-12-05-dlib/aead-micro.mjs
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/x.js');
const { newInstance, ChaCha20Poly1305 } = await import('@chainsafe/as-chacha20poly1305');
const xs = require('xsalsa20');
const asImpl = new ChaCha20Poly1305(newInstance());
const k = crypto.randomBytes(32),
  nonce = Buffer.alloc(12),
  ad = new Uint8Array(0);
for (const size of [100, 200, 300, 400, 500, 700, 1500, 4000]) {
  const pt = crypto.randomBytes(size);
  const N = 20000;
  function bench(name, f) {
    for (let i = 0; i < 2000; i++) f();
    const t = process.cpuUsage();
    for (let i = 0; i < N; i++) f();
    const c = process.cpuUsage(t);
    console.log(size, name, ((c.user + c.system) / N).toFixed(2), 'µs');
  }
  const ct = asImpl.seal(k, nonce, pt, ad);
  bench('as seal', () => asImpl.seal(k, nonce, pt, ad));
  bench('as open', () => asImpl.open(k, nonce, ct, ad));
  bench('node seal', () => {
    const c = crypto.createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 });
    c.setAAD(ad, { plaintextLength: pt.byteLength });
    const u = c.update(pt);
    const f = c.final();
    return Buffer.concat([u, f, c.getAuthTag()]);
  });
  bench('node open', () => {
    const d = crypto.createDecipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 });
    const text = ct.subarray(0, ct.length - 16);
    d.setAAD(ad, { plaintextLength: text.byteLength });
    d.setAuthTag(ct.subarray(ct.length - 16));
    const o = d.update(text);
    d.final();
    return o;
  });
  const x = xs(crypto.randomBytes(24), k);
  bench('xsalsa20', () => {
    const o = new Uint8Array(pt.byteLength);
    x.update(pt, o);
    return o;
  });
}
