#!/bin/bash
# use.sh ADDON CMD...: runs CMD with ADDON copied over build/Release/nixl_native.node
# first (the target child process loads the same file), for interleaved A/B runs of
# two builds. Run under the bench lock, like the runs themselves.
set -e
cp "$1" build/Release/nixl_native.node
shift
exec "$@"
