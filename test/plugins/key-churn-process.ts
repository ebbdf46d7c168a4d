/**
 * Makes argv[2] noise X25519 key pairs and TCP engine identity seeds, one
 * after the other as a busy start does, then prints how many it made. On
 * Node 20 a key generated as a KeyObject and then exported deadlocked the
 * process within a few thousand (key-generation.test.ts): it printed nothing.
 */
import { newIdentitySeed } from '../../backends/tcp/identity-seed.js';
import { nativeNoiseCrypto } from '../../plugins/libp2p-node/noise-crypto.js';

const n = Number(process.argv[2]);
for (let i = 0; i < n; i++) nativeNoiseCrypto.generateX25519KeyPair();
for (let i = 0; i < n; i++) newIdentitySeed();
process.stdout.write(`${n}\n`);
