/**
 * The value under an agent's `update` key: a chain of the last registrations
 * (at most UPDATE_CHAIN_LINKS, oldest first), each the SHA-256 of the
 * `metadata` value it applies on top of and the partial metadata of the
 * registrations. Each link's result is the next link's base; the last one's
 * is the `metadata` of the same transaction. A peer whose view of the agent
 * came from one of the bases applies the partial metadata from that link on
 * (it missed fewer updates than the chain holds: a watch that was down, a
 * re-read after an etcd restart); otherwise it loads the full `metadata`.
 *
 * Encoding: `CHAIN_MAGIC`, then per link its base (32 bytes), the partial's
 * length (u32 LE) and the partial. A value without the magic is the older
 * single-link form: the base, then the partial (what an agent that predates
 * the chain writes). A reader that predates it takes the magic and the
 * first link for a base it does not know, and loads the full metadata.
 */
import { createHash } from 'node:crypto';

const DIGEST_BYTES = 32;
const CHAIN_MAGIC = Buffer.from('NXUC');
/** Updates a chain holds: a peer that missed more loads the full metadata. */
export const UPDATE_CHAIN_LINKS = 8;
/**
 * Older links are dropped while a chain is larger than this (the newest is
 * always kept): a transaction then grows by at most this much over one with
 * the newest link alone, well inside etcd's request bound (1.5 MiB by default).
 */
export const UPDATE_CHAIN_MAX_BYTES = 256 << 10;

/** One registration change: the metadata digest it applies on top of, and its partial metadata. */
export interface UpdateLink {
  base: string;
  partial: Uint8Array;
}

/** SHA-256 of a `metadata` value, as hex (how views remember what they came from). */
export function metadataDigest(value: Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * `links` extended by `link`, when `link` applies on top of their result
 * (`result`, the digest of the metadata they lead to); just `link` otherwise.
 * The oldest links are dropped past the bounds.
 */
export function extendChain(
  links: readonly UpdateLink[],
  result: string | undefined,
  link: UpdateLink,
): UpdateLink[] {
  const chain = result === link.base ? [...links, link] : [link];
  while (
    chain.length > UPDATE_CHAIN_LINKS ||
    (chain.length > 1 && chainBytes(chain) > UPDATE_CHAIN_MAX_BYTES)
  ) {
    chain.shift();
  }
  return chain;
}

function chainBytes(links: readonly UpdateLink[]): number {
  return links.reduce((n, l) => n + DIGEST_BYTES + 4 + l.partial.byteLength, CHAIN_MAGIC.length);
}

export function encodeUpdate(links: readonly UpdateLink[]): Uint8Array {
  const out = Buffer.alloc(chainBytes(links));
  let at = CHAIN_MAGIC.copy(out, 0);
  for (const l of links) {
    at += Buffer.from(l.base, 'hex').copy(out, at);
    at = out.writeUInt32LE(l.partial.byteLength, at);
    out.set(l.partial, at);
    at += l.partial.byteLength;
  }
  return out;
}

/** The links, oldest first, or undefined for a value that holds none. */
export function decodeUpdate(value: Uint8Array): UpdateLink[] | undefined {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const chain = v.subarray(0, CHAIN_MAGIC.length).equals(CHAIN_MAGIC) ? decodeChain(v) : undefined;
  if (chain) return chain;
  // The single-link form.
  if (v.byteLength <= DIGEST_BYTES) return undefined;
  return [{ base: v.toString('hex', 0, DIGEST_BYTES), partial: value.subarray(DIGEST_BYTES) }];
}

function decodeChain(v: Buffer): UpdateLink[] | undefined {
  const links: UpdateLink[] = [];
  let at = CHAIN_MAGIC.length;
  while (at < v.byteLength) {
    if (v.byteLength - at < DIGEST_BYTES + 4) return undefined;
    const base = v.toString('hex', at, at + DIGEST_BYTES);
    const len = v.readUInt32LE(at + DIGEST_BYTES);
    at += DIGEST_BYTES + 4;
    if (len === 0 || v.byteLength - at < len) return undefined;
    links.push({ base, partial: v.subarray(at, at + len) });
    at += len;
  }
  return links.length > 0 ? links : undefined;
}
