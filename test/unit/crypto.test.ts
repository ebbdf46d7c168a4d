/**
 * The TCP handshake's primitives come from the OpenSSL that Node ships
 * (native/common/crypto.cc): checked against the published vectors of
 * RFC 4231 (HMAC-SHA-256) and FIPS 180-2 (SHA-256).
 */
import { describe, expect, it } from 'vitest';

import { native } from '../../src/native.js';

const addon = native() as unknown as {
  hmacSha256(key: Uint8Array, msg: Uint8Array): Buffer;
  sha256(msg: Uint8Array): Buffer;
};
const hex = (s: string) => Buffer.from(s, 'hex');
const text = (s: string) => Buffer.from(s, 'ascii');
const bytes = (n: number, v: number) => Buffer.alloc(n, v);

// RFC 4231, section 4 (test case 5 truncates the output; it is left out).
const rfc4231: [string, Buffer, Buffer, string][] = [
  [
    '4.2',
    bytes(20, 0x0b),
    text('Hi There'),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  ],
  [
    '4.3',
    text('Jefe'),
    text('what do ya want for nothing?'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  ],
  [
    '4.4',
    bytes(20, 0xaa),
    bytes(50, 0xdd),
    '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
  ],
  [
    '4.5',
    hex('0102030405060708090a0b0c0d0e0f10111213141516171819'),
    bytes(50, 0xcd),
    '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
  ],
  [
    '4.7',
    bytes(131, 0xaa),
    text('Test Using Larger Than Block-Size Key - Hash Key First'),
    '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  ],
  [
    '4.8',
    bytes(131, 0xaa),
    text(
      'This is a test using a larger than block-size key and a larger than block-size data. ' +
        'The key needs to be hashed before being used by the HMAC algorithm.',
    ),
    '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
  ],
];

describe('handshake cryptography (OpenSSL through Node)', () => {
  it.each(rfc4231)('HMAC-SHA-256, RFC 4231 section %s', (_section, key, data, mac) => {
    expect(addon.hmacSha256(key, data).toString('hex')).toBe(mac);
  });

  it('SHA-256 of "abc" and of the empty message (FIPS 180-2)', () => {
    expect(addon.sha256(text('abc')).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(addon.sha256(Buffer.alloc(0)).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});
