/**
 * The control plane's native key operations (noise-crypto.ts, signing-key.ts)
 * compute exactly what the stock implementations compute: the same X25519
 * shared secrets, HKDF output and Ed25519 signatures, a noise handshake that
 * completes against stock noise in either role and carries data, and one that
 * still fails when the peer is not who the dialer expected. The silent
 * libp2p logger is used only while DEBUG is unset.
 */
import { randomBytes, verify } from 'node:crypto';

import { generateKeyPair } from '@libp2p/crypto/keys';
import { noise, pureJsCrypto } from '@libp2p/noise';
import { defaultCrypto } from '@libp2p/noise/crypto';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { byteStream, multiaddrConnectionPair } from '@libp2p/utils';
import { Uint8ArrayList } from 'uint8arraylist';
import { afterEach, describe, expect, it } from 'vitest';

import { nativeNoiseCrypto } from '../../plugins/libp2p-node/noise-crypto.js';
import { withCachedSigning } from '../../plugins/libp2p-node/signing-key.js';
import { libp2pLoggerOption, silentLogger } from '../../plugins/libp2p-node/silent-logger.js';

const hex = (b: Uint8Array | Uint8ArrayList) => Buffer.from(b.subarray()).toString('hex');

describe('native noise crypto', () => {
  it('agrees with the stock X25519 in both directions and on seeded keys', () => {
    for (let i = 0; i < 20; i++) {
      const mine = nativeNoiseCrypto.generateX25519KeyPair();
      const theirs = defaultCrypto.generateX25519KeyPair();
      const a = nativeNoiseCrypto.generateX25519SharedKey(mine.privateKey, theirs.publicKey);
      const b = defaultCrypto.generateX25519SharedKey(theirs.privateKey, mine.publicKey);
      expect(hex(a)).toBe(hex(b));
      // Keys it did not make (a copy of the bytes) take the import path: same result.
      const copy = new Uint8Array(mine.privateKey);
      expect(hex(nativeNoiseCrypto.generateX25519SharedKey(copy, theirs.publicKey))).toBe(hex(b));
      // A public key given as a list of chunks.
      const list = new Uint8ArrayList(
        theirs.publicKey.subarray(0, 7),
        theirs.publicKey.subarray(7),
      );
      expect(hex(nativeNoiseCrypto.generateX25519SharedKey(mine.privateKey, list))).toBe(hex(b));
    }
    const seed = new Uint8Array(randomBytes(32));
    expect(hex(nativeNoiseCrypto.generateX25519KeyPairFromSeed(seed).publicKey)).toBe(
      hex(defaultCrypto.generateX25519KeyPairFromSeed(seed).publicKey),
    );
  });

  it('derives the same HKDF keys as the JavaScript implementation', () => {
    for (let i = 0; i < 20; i++) {
      const ck = new Uint8Array(randomBytes(32));
      const ikm = new Uint8Array(randomBytes(32));
      expect(nativeNoiseCrypto.getHKDF(ck, ikm).map(hex)).toEqual(
        pureJsCrypto.getHKDF(ck, ikm).map(hex),
      );
    }
  });

  it('refuses a malformed public key', () => {
    const mine = nativeNoiseCrypto.generateX25519KeyPair();
    expect(() =>
      nativeNoiseCrypto.generateX25519SharedKey(mine.privateKey, new Uint8Array(31)),
    ).toThrow();
  });
});

describe('noise handshake with the native crypto', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
  });

  async function side(native: boolean) {
    const privateKey = await generateKeyPair('Ed25519');
    const components = {
      privateKey: withCachedSigning(privateKey),
      peerId: peerIdFromPrivateKey(privateKey),
      logger: silentLogger,
      upgrader: { getStreamMuxers: () => new Map() } as any,
    };
    return { components, noise: noise(native ? { crypto: nativeNoiseCrypto } : {})(components) };
  }

  it.each([
    ['native dials stock', true, false],
    ['stock dials native', false, true],
    ['native dials native', true, true],
  ])(
    '%s: both learn each other and data flows both ways',
    async (_name, dialerNative, listenerNative) => {
      const dialer = await side(dialerNative);
      const listener = await side(listenerNative);
      const [a, b] = multiaddrConnectionPair();
      const [out, inb] = await Promise.all([
        dialer.noise.secureOutbound(a, { remotePeer: listener.components.peerId }),
        listener.noise.secureInbound(b),
      ]);
      closers.push(
        () => out.connection.close(),
        () => inb.connection.close(),
      );
      expect(out.remotePeer.toString()).toBe(listener.components.peerId.toString());
      expect(inb.remotePeer.toString()).toBe(dialer.components.peerId.toString());
      const x = byteStream(out.connection);
      const y = byteStream(inb.connection);
      const ping = new Uint8Array(randomBytes(5000));
      const pong = new Uint8Array(randomBytes(300));
      await Promise.all([x.write(ping), y.write(pong)]);
      const [gotPing, gotPong] = await Promise.all([
        y.read({ bytes: ping.byteLength }),
        x.read({ bytes: pong.byteLength }),
      ]);
      expect(hex(gotPing)).toBe(hex(ping));
      expect(hex(gotPong)).toBe(hex(pong));
    },
  );

  it('fails when the listener is not the peer the dialer expected', async () => {
    const dialer = await side(true);
    const listener = await side(true);
    const someoneElse = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    const [a, b] = multiaddrConnectionPair();
    const outcome = await Promise.allSettled([
      dialer.noise.secureOutbound(a, {
        remotePeer: someoneElse,
        signal: AbortSignal.timeout(5000),
      }),
      listener.noise.secureInbound(b, { signal: AbortSignal.timeout(5000) }),
    ]);
    expect(outcome[0].status).toBe('rejected');
    await Promise.allSettled([a.close(), b.close()]);
  });
});

describe('cached Ed25519 signing', () => {
  it('signs exactly as the stock key, from bytes and from lists, and honours an aborted signal', async () => {
    const key = await generateKeyPair('Ed25519');
    const cached = withCachedSigning(key);
    expect(cached.publicKey.toString()).toBe(key.publicKey.toString());
    expect(cached.equals(key)).toBe(true);
    expect(withCachedSigning(cached)).toBe(cached);
    for (let i = 0; i < 10; i++) {
      const msg = new Uint8Array(randomBytes(100 + i * 50));
      const sig = cached.sign(msg) as Uint8Array;
      expect(hex(sig)).toBe(hex(key.sign(msg) as Uint8Array));
      expect(await key.publicKey.verify(msg, sig)).toBe(true);
      const list = new Uint8ArrayList(msg.subarray(0, 30), msg.subarray(30));
      expect(hex(cached.sign(list) as Uint8Array)).toBe(hex(sig));
    }
    expect(() => cached.sign(new Uint8Array(1), { signal: AbortSignal.abort() })).toThrow();
    // A signature over other bytes does not verify (the key signs what it is given).
    const s = cached.sign(new Uint8Array([1, 2, 3])) as Uint8Array;
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.publicKey.raw]);
    expect(
      verify(null, new Uint8Array([1, 2, 4]), { key: spki, format: 'der', type: 'spki' }, s),
    ).toBe(false);
  });
});

describe('libp2p logger option', () => {
  it('is silent without DEBUG and libp2p’s own with it', () => {
    const saved = process.env.DEBUG;
    try {
      delete process.env.DEBUG;
      expect(libp2pLoggerOption().logger).toBe(silentLogger);
      const log = silentLogger.forComponent('x').newScope('y');
      expect(log.enabled).toBe(false);
      log('nothing %s', 'here');
      log.error('nothing');
      process.env.DEBUG = 'libp2p:*';
      expect(libp2pLoggerOption()).toEqual({});
    } finally {
      if (saved === undefined) delete process.env.DEBUG;
      else process.env.DEBUG = saved;
    }
  });
});
