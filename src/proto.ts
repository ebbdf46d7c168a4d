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
