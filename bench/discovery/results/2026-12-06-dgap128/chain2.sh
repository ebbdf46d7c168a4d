#!/bin/bash
# The refused dials and the paced frames at 128 (after chain.sh), floor layers then main.
cd "$(dirname "$0")"
F=/work/wt-d18gap M=/tmp/main-before
M128=30x1450,7x2600,9x135,5x1420,3x830,5x40
L=stack-load,stack-load+refused,stack-load+frames+paced,stack-load+frames+paced+refused
SIZE=128 ORDER=fm LAYERS=$L FRAMES=$M128 REFUSED=5 ./gap-round2.sh $F $M r5-fm-128
