#!/usr/bin/env bash
# Builds the addon as on a machine without UCX (has_ucx=0) in a scratch copy of
# HEAD, then checks that it loads, that getAvailPlugins() omits UCX, and that
# createBackend('UCX') says what to install. Leaves the real build/ alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git -C "$root" archive HEAD | tar -x -C "$scratch"
ln -s "$root/node_modules" "$scratch/node_modules"
cd "$scratch"
npx node-gyp configure --nodedir=/usr -- -Dhas_ucx=0 >/dev/null
npx node-gyp build --nodedir=/usr >/dev/null
if ldd build/Release/nixl_native.node | grep -q libucp || [ -e build/Release/nixl_ucx.node ]; then
  echo "FAIL: the has_ucx=0 build links or builds UCX" >&2
  exit 1
fi
cat > check.mts <<'TS'
import './src/polyfills.js';
import { Agent } from './src/agent.js';
const a = await Agent.create({ name: 'no-ucx-check' });
const plugins = a.getAvailPlugins();
let message = '';
try {
  await a.createBackend('UCX');
} catch (e) {
  message = `${(e as Error).name}: ${(e as Error).message}`;
}
await a.close();
console.log(JSON.stringify({ plugins, message }));
if (plugins.includes('UCX') || !/NotFoundError/.test(message) || !/libucx-dev/.test(message)) {
  process.exit(1);
}
TS
npx tsx check.mts
echo "OK: without UCX the addon builds, UCX is not listed, and creating it says what to install"
