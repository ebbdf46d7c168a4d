import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The text of a wire schema in the package's proto/ folder (the schemas'
 * source). It sits beside src/ when running from source and beside dist/ in
 * the package, so both places are tried.
 */
export function readProto(name: string): string {
  for (const rel of ['../proto/', '../../proto/']) {
    const path = fileURLToPath(new URL(rel + name, import.meta.url));
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  throw new Error(`nixl-ts: the wire schema proto/${name} is missing from the package`);
}

const NO_BYTES = new Uint8Array(0);

/**
 * A bytes field of a message protobufjs decoded, read without its toObject
 * copy: an absent field reads as the prototype's default, which is not a
 * Uint8Array, so it becomes an empty one.
 */
export function decodedBytes(b: Uint8Array | undefined): Uint8Array {
  return b instanceof Uint8Array ? b : NO_BYTES;
}
