#!/bin/sh
# In-guest half of bench/tcg_bench.py (packed by guest/mkoverlay.sh with the
# static cpubench binary as /init.d/02-cpubench). The host fills in the
# @...@ values; each kernel runs @REPS@ times, interleaved. Ends the VM
# itself so that /init does not run the binary without arguments.
b=/init.d/02-cpubench
echo "CPUBENCH start"
$b text /tmp/text @TEXT_MIB@ || echo "CPUBENCH text error=write"
i=0
while [ $i -lt @REPS@ ]; do
	$b loop @LOOP@
	$b call @CALL@
	$b icall @ICALL@
	$b memcpy @MEMCPY@
	$b fork @FORK@
	$b cmd awk /dev/null busybox awk 'BEGIN { for (i = 0; i < @AWK@; i++) { s += i % 7; t = t "x"; if (length(t) > 64) t = "" } print s }'
	$b cmd gzip /dev/null busybox gzip -c /tmp/text
	i=$((i + 1))
done
echo "CPUBENCH end"
sync
reboot -f
