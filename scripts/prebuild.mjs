#!/usr/bin/env node
// Fills prebuilds/<platform>-<arch>/ for the package (run by prepack): the
// addons of build/Release, compiled again first when any native source or
// binding.gyp is newer than them, stripped of debug symbols. Node-API addons,
// so one file serves every Node version >= the package's engines.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { ADDONS, REQUIRED, ROOT, TUPLE, prebuildDir, releaseDir } from './native-addons.mjs';

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const built = join(releaseDir, `${REQUIRED}.node`);
const sourcesTime = Math.max(
  newestSource(join(ROOT, 'native')),
  statSync(join(ROOT, 'binding.gyp')).mtimeMs,
);
if (!existsSync(built) || statSync(built).mtimeMs < sourcesTime) {
  console.error('prebuild: native sources changed since the last build; node-gyp rebuild');
  const r = spawnSync('npx', ['node-gyp', 'rebuild'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

rmSync(prebuildDir, { recursive: true, force: true });
mkdirSync(prebuildDir, { recursive: true });
const shipped = [];
for (const name of ADDONS) {
  const from = join(releaseDir, `${name}.node`);
  if (!existsSync(from)) continue;
  const to = join(prebuildDir, `${name}.node`);
  copyFileSync(from, to);
  try {
    execFileSync('strip', ['--strip-unneeded', to]);
  } catch {
    // strip is optional: an unstripped addon works the same
  }
  shipped.push(`${name} (${Math.round(statSync(to).size / 1024)} KiB)`);
}
console.error(`prebuild: prebuilds/${TUPLE}: ${shipped.join(', ')}`);
