#!/usr/bin/env bash
# The GPU check of issue #22 on a machine with one NVIDIA GPU and nothing
# else: no Node, npm or network. It unpacks what scripts/gpu-pack.sh put in
# the bundle (a Node binary, the built project) into a temporary folder and
# runs scripts/gpu-check.mjs with plain Node; the whole run is bounded to
# 4 minutes.
#
#   scripts/gpu-check.sh [bundle-dir]     (default: .gpu-bundle beside scripts/)
#
# Exit: gpu-check.mjs's (0 passed, 1 a check failed, 2 no usable device,
# 3 over its time bound), 124 killed at the bound, 10 the bundle is unusable.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=${1:-$ROOT/.gpu-bundle}
WORK=$(mktemp -d /tmp/nixl-gpu.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

unxz_to() { # unxz_to <file.xz> : decompress to stdout, with xz or Python's lzma
  if command -v xz >/dev/null; then
    xz -dc "$1"
  else
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}

for f in node.xz app.tar.xz; do
  [ -f "$BUNDLE/$f" ] || { echo "gpu-check: $BUNDLE/$f missing (run scripts/gpu-pack.sh on the build machine)"; exit 10; }
done
unxz_to "$BUNDLE/node.xz" >"$WORK/node" && chmod +x "$WORK/node" || exit 10
unxz_to "$BUNDLE/app.tar.xz" | tar -C "$WORK" -xf - || exit 10
"$WORK/node" --version >/dev/null || { echo "gpu-check: the bundled node does not run here"; exit 10; }

echo "== host: $(uname -srm); $(nproc) CPUs"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
cd "$WORK/app"
timeout -k 5 235 "$WORK/node" scripts/gpu-check.mjs
rc=$?
echo "gpu-check: exit $rc"
exit $rc
