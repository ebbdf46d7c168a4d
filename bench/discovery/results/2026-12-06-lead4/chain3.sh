#!/bin/bash
# Is the later start the d18sim2 merge? main (a29d559) against main with 594d702 reverted (/tmp/nosim2).
set -u
cd "$(dirname "$0")"
AB=../2026-12-05-dcpu2/scale-ab.sh
N=/tmp/nosim2; M=/work/main
SIZE=32 LIMIT_S=90 $AB 1 $N $M x32-ab1
SIZE=32 LIMIT_S=90 $AB 1 $M $N x32-ba1
SIZE=128 LIMIT_S=90 $AB 1 $N $M x128-ab1
SIZE=128 LIMIT_S=90 $AB 1 $M $N x128-ba1
