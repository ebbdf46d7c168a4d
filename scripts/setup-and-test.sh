#!/usr/bin/env bash
# One command from a fresh Debian/Ubuntu clone to a passing test run:
# system packages (as root, or through sudo), npm ci (builds the native
# addon), the TypeScript build, and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# etcd-server: the etcd that the etcd plugin's tests start on 127.0.0.1; openssl: their TLS certificates.
APT_PACKAGES=(build-essential python3 pkg-config libucx-dev ucx-utils liburing-dev iperf3 iproute2 util-linux etcd-server openssl fio)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm run build
npm run typecheck
npm run test:ci
