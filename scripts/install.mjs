#!/usr/bin/env node
// The package's install script: use the shipped prebuild when it loads here,
// compile with node-gyp only when no prebuild matches (another platform or
// architecture, or a C/C++ runtime too old for it). In a git clone there are
// no prebuilds, so this compiles, as `node-gyp rebuild` did before.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

import { REQUIRED, TUPLE, prebuildPath, ROOT } from './native-addons.mjs';

function prebuildLoads() {
  const path = prebuildPath(REQUIRED);
  if (!path) return `no prebuild for ${TUPLE}`;
  try {
    createRequire(import.meta.url)(path);
    return undefined;
  } catch (err) {
    return `the ${TUPLE} prebuild does not load here (${err.message.split('\n')[0]})`;
  }
}

if (process.env.NIXL_TS_FORCE_BUILD !== '1') {
  const why = prebuildLoads();
  if (!why) process.exit(0);
  console.error(
    `nixl-ts: ${why}; compiling the native addons (needs g++ with C++20, make, python3)`,
  );
}

// The package's own node-gyp (a devDependency in a clone), else the one npm or
// pnpm bundle (npm_config_node_gyp), else one on PATH.
function ownNodeGyp() {
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}
const gyp = ownNodeGyp() ?? process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
if (r.error || r.status !== 0) {
  console.error(
    `nixl-ts: compiling the native addons failed${r.error ? ` (${r.error.message})` : ''}. ` +
      'Install g++ (C++20), make and python3, then run `npm rebuild nixl-ts`; ' +
      'for the UCX backend also UCX development files (Debian/Ubuntu: libucx-dev).',
  );
  process.exit(1);
}
