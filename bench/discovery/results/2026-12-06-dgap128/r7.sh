#!/bin/bash
# The same at 64 agents (main's 64 counts from lead3's merged-64 runs: ~44 frames and ~68 KiB
# per agent, 145-189 refused dials), floor layers then main; each its own lock hold.
cd "$(dirname "$0")"
M64=19x1800,9x135,3x1030,2x500,5x40
SIZE=64 ORDER=fm LAYERS=stack-load,stack-load+frames+paced,stack-load+refused,stack-load+frames+paced+refused FRAMES=$M64 REFUSED=3 ./gap-round2.sh /work/wt-d18gap /tmp/main-before r7-fm-64
