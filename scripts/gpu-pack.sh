#!/usr/bin/env bash
# Assembles what scripts/gpu-check.sh needs on a GPU machine that has no
# Node, npm or network: an xz-compressed Node binary and one archive of the
# built project (dist/ without maps and types, the nixl_native and nixl_cuda
# addons, proto/, the runtime packages dist/src needs, scripts/gpu-check.mjs).
#
#   scripts/gpu-pack.sh [out-dir]      (default: .gpu-bundle, git-ignored)
#
# Build first (npm run build; the addons in build/Release). Prints the sizes
# and fails if the bundle is over 64 MiB (what a device run carries).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/.gpu-bundle}
LIMIT=$((64 * 1024 * 1024))
cd "$ROOT"

for f in dist/src/index.js dist/backends/tcp/vram-stager.js build/Release/nixl_native.node build/Release/nixl_cuda.node; do
  [ -e "$f" ] || { echo "gpu-pack: $f is missing: run 'npm run build' and 'npm run build:native'" >&2; exit 1; }
done

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
APP=$STAGE/app
mkdir -p "$APP/build/Release" "$APP/node_modules" "$APP/scripts" "$APP/dist"
cp build/Release/nixl_native.node build/Release/nixl_cuda.node "$APP/build/Release/"
# dist/src and the backends (the agent loads TCP by name), testing/ for the pattern and the peer channel.
tar -C dist --exclude='*.map' --exclude='*.d.ts' -cf - src backends testing | tar -C "$APP/dist" -xf -
cp -r proto "$APP/"
cp package.json "$APP/" # "type": "module" for dist's .js files
cp scripts/gpu-check.mjs "$APP/scripts/"
# dist/src imports one package: protobufjs (with long); -L: node_modules may be a link.
for p in protobufjs long @protobufjs; do
  [ -e "node_modules/$p" ] && cp -rL "node_modules/$p" "$APP/node_modules/"
done

mkdir -p "$OUT"
tar -C "$STAGE" -cf - app | xz -9 -T2 >"$OUT/app.tar.xz"
NODE=$(command -v node)
if [ ! -e "$OUT/node.xz" ] || [ "$NODE" -nt "$OUT/node.xz" ]; then
  xz -9 -T2 -c "$NODE" >"$OUT/node.xz.tmp" && mv "$OUT/node.xz.tmp" "$OUT/node.xz"
fi
"$NODE" --version >"$OUT/node.version"

total=$(du -cb "$OUT"/* | tail -1 | cut -f1)
ls -l "$OUT"
echo "gpu-pack: $OUT is $total bytes ($((total / 1024 / 1024)) MiB; limit 64 MiB)"
[ "$total" -le "$LIMIT" ] || { echo "gpu-pack: over 64 MiB" >&2; exit 1; }
