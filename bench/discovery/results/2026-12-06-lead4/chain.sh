#!/bin/bash
# The lead's before/after runs of 2026-12-06 stop 41: before = a991072 (/tmp/main-before),
# merged = /work/main. Each run holds /tmp/bench.lock (scale-ab.sh takes it per run).
set -u
cd "$(dirname "$0")"
AB=../2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before; M=/work/main
SIZE=128 LIMIT_S=90 $AB 1 $B $M s128-ab1
SIZE=128 LIMIT_S=90 $AB 1 $M $B s128-ba1
SCALE_ARGS="--source mdns" SIZE=32 LIMIT_S=90 $AB 1 $B $M m32-ab1
SCALE_ARGS="--source mdns" SIZE=32 LIMIT_S=90 $AB 1 $M $B m32-ba1
SIZE=128 LIMIT_S=90 $AB 1 $B $M s128-ab2
SIZE=128 LIMIT_S=90 $AB 1 $M $B s128-ba2
SCALE_ARGS="--source mdns" SIZE=32 LIMIT_S=90 $AB 1 $B $M m32-ab2
SCALE_ARGS="--source mdns" SIZE=32 LIMIT_S=90 $AB 1 $M $B m32-ba2
SIZE=32 LIMIT_S=90 $AB 1 $B $M s32-ab1
SIZE=32 LIMIT_S=90 $AB 1 $M $B s32-ba1
SCALE_ARGS="--source mdns" SIZE=32 LIMIT_S=90 $AB 1 $B $M m32-ab3
SCALE_ARGS="--source mdns" SIZE=32 LIMIT_S=90 $AB 1 $M $B m32-ba3
SIZE=64 LIMIT_S=90 $AB 1 $B $M s64-ab1
