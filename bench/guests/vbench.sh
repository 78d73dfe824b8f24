#!/bin/sh
# In-guest half of bench/virtio_bench.py (packed by guest/mkoverlay.sh with
# the static vbench binary as /init.d/02-vbench). The host fills in the
# @...@ values. Each phase prints "VBENCH ..." lines; see vbench.c.
b=/init.d/02-vbench
secs=@SECONDS@
echo "VBENCH start"
$b blk /dev/vda "$secs"
$b vsock @VSOCK_PORT@ "$secs"
if ip link set eth0 up && ip addr add @GUEST_IP@/24 dev eth0; then
	$b udp @HOST_IP@ @UDP_PORT@ "$secs" @UDP_SIZE@
else
	echo "VBENCH net-udp-tx error=no-eth0"
fi
echo "VBENCH end"
