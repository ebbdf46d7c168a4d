#!/bin/bash
# After a29d559 (no second look unless a probe waits): before = a991072 (/tmp/main-before), merged = /work/main.
set -u
cd "$(dirname "$0")"
AB=../2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before; M=/work/main
SIZE=128 LIMIT_S=90 $AB 1 $B $M r128-ab1
SIZE=128 LIMIT_S=90 $AB 1 $M $B r128-ba1
SIZE=32 LIMIT_S=90 $AB 1 $B $M r32-ab1
SIZE=32 LIMIT_S=90 $AB 1 $M $B r32-ba1
SIZE=128 LIMIT_S=90 $AB 1 $B $M r128-ab2
SIZE=128 LIMIT_S=90 $AB 1 $M $B r128-ba2
