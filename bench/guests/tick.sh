#!/bin/sh
# The snapshot benchmark's guest (bench/snapshot_bench.py): a function
# that is ready and waiting. After init it prints a numbered tick line
# every ~10 ms, forever; the first tick after a restore is the guest
# running again, and its number says it went on from the snapshot.
i=0
while :; do
	i=$((i + 1))
	echo "TICK $i"
	usleep 10000
done
