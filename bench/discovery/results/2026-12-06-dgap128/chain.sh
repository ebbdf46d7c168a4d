#!/bin/bash
# The decomposition's rounds, one after another (each run its own lock hold).
cd "$(dirname "$0")"
F=/work/wt-d18gap M=/tmp/main-before
M128=30x1450,7x2600,9x135,5x1420,3x830,5x40
M64=19x1800,9x135,3x1030,2x500,5x40
SIZE=128 ORDER=fm FRAMES=$M128 CHURN=1 ./gap-round.sh $F $M r1-fm-128
SIZE=128 ORDER=mf FRAMES=$M128 CHURN=1 ./gap-round.sh $F $M r2-mf-128
SIZE=64 ORDER=fm FRAMES=$M64 CHURN=1 ./gap-round.sh $F $M r3-fm-64
SIZE=64 ORDER=mf FRAMES=$M64 CHURN=1 ./gap-round.sh $F $M r4-mf-64
