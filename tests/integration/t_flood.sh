# A Linux guest floods vsock with connections under a 1024 file-descriptor
# limit (issue 11, finding 1): the VMM caps them under its fd budget and
# refuses the rest with an RST, so the API still answers within a second and
# a host connection to a port the guest listens on still gets through.
# Uses api_start/api/wait_for (t_api.sh).

FL_GUEST_DIR=${EMBER_GUEST_DIR:-build/guest}

fl_helper_src() {
	cat <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

/* flood PORT N: opens up to N connections to the host's PORT and holds
 * them; prints how many got through and how many were refused. */
static int flood(unsigned port, int n)
{
	int ok = 0, refused = 0;
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = port };
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			ok++;
		} else {
			refused++;
			close(fd);
		}
	}
	printf("FLOOD: %d connected, %d refused\n", ok, refused);
	fflush(stdout);
	pause();
	return 0;
}

/* serve PORT: answers "pong" to every connection on the guest's PORT. */
static int serve(unsigned port)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16))
		return 1;
	printf("FLOOD: serving %u\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		char buf[16];
		if (read(c, buf, sizeof(buf)) > 0 && write(c, "pong", 4) != 4)
			perror("write");
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "flood"))
		return flood((unsigned)atoi(argv[2]), atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve((unsigned)atoi(argv[2]));
	return 0;
}
EOF
}

fl_guest_script() {
	cat <<'EOF'
#!/bin/sh
# More connections than the VMM's whole fd budget; the kernel's own limit
# on the guest side is raised first.
ulimit -n 4096
h=/init.d/02-fl_helper
$h serve 6000 &
$h flood 52 1500 &
sleep 100000
EOF
}

test_vsock_flood_tcg() {
	need_accel tcg
	local g=$FL_GUEST_DIR d=$TEST_TMP/flood
	for f in vmlinux initramfs.cpio.gz; do
		[ -f "$g/$f" ] || fail "$g/$f missing (make guest)"
	done
	mkdir -p "$d"
	fl_helper_src >"$d/fl_helper.c"
	gcc -O1 -static -o "$d/fl_helper" "$d/fl_helper.c"
	fl_guest_script >"$d/flood.sh"
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/flood.sh" "$d/fl_helper"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1 quiet" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128, "accel": "tcg" },
  "vsock": { "guest_cid": 3, "uds_path": "$d/v.sock" }
}
JSON
	# The host end of port 52: accepts and holds every connection.
	python3 - "$d/v.sock_52" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(4096)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
PY
	# A service's usual limit, hard and soft (this test's shell only).
	ulimit -Sn 1024
	ulimit -Hn 1024
	api_start flood --config-file "$d/vm.json" --level Info
	wait_for "FLOOD: [0-9]* connected" "$API_OUT" 1200
	local ok refused
	ok=$(sed -n 's/.*FLOOD: \([0-9]*\) connected.*/\1/p' "$API_OUT" | head -n 1)
	refused=$(sed -n 's/.*connected, \([0-9]*\) refused.*/\1/p' "$API_OUT" | head -n 1)
	echo "guest: $ok connected, $refused refused"
	[ "$refused" -gt 0 ] || fail "no connection was refused: the cap did not bite"
	[ "$ok" -lt 1024 ] || fail "$ok connections under a 1024 fd limit"
	# The API answers at once, and a host connection still reaches the guest.
	local t0 t1
	t0=$(date +%s%N)
	api 200 GET /
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 1000 ] || fail "GET / took $(((t1 - t0) / 1000000)) ms"
	grep -q "connections open, the limit: new ones are refused" "$API_OUT" ||
		fail "the limit was not logged: $(grep -i vsock "$API_OUT" | tail -n 3)"
	# A host connection gets its answer at once: through, or closed over
	# the cap; it does not hang as it did when the VMM had no fds left.
	t0=$(date +%s%N)
	local reply
	reply=$(python3 - "$d/v.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
line = b""
try:
    s.sendall(b"CONNECT 6000\n")
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            print("closed")
            sys.exit(0)
        line += b
    s.sendall(b"ping")
    print(line.decode().strip(), s.recv(4).decode())
except (BrokenPipeError, ConnectionResetError):
    print("closed")
except socket.timeout:
    print("timeout")
PY
)
	t1=$(date +%s%N)
	echo "host connect: '$reply' in $(((t1 - t0) / 1000000)) ms"
	case $reply in
	"OK "*" pong" | closed) ;;
	*) fail "a host connection under the flood: '$reply'" ;;
	esac
	api_stop
}
