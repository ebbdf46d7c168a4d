#!/usr/bin/env node
// Launcher of the nixl-ts-bench CLI: the compiled CLI when dist/ exists (npm run build),
// otherwise the TypeScript sources through tsx (a fresh clone after npm ci).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/bench/cli/main.js', import.meta.url));
let entry;
if (existsSync(compiled)) {
  entry = pathToFileURL(compiled).href;
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../bench/cli/main.ts', import.meta.url).href;
}
const { runAsCli } = await import(entry);
await runAsCli();
// Exit with the CLI's code even if a library left a handle open.
process.exit(process.exitCode ?? 0);
