# Guest image recipe, included by the top-level Makefile.
# `make guest` leaves build/guest/{vmlinux,bzImage,initramfs.cpio.gz,rootfs.ext4};
# the work is done (and cached in ~/.cache/ember) by guest/build.sh.
# `make guest-verify` boots the results under QEMU (TCG) as a smoke test.

# Debian packages guest/build.sh and guest/verify.sh need (installed by `make deps`).
GUEST_PKGS := linux-source-6.1 busybox-static bc flex bison libelf-dev libssl-dev \
	cpio e2fsprogs xz-utils gzip gcc make binutils util-linux qemu-system-x86

GUEST_OUT := $(BUILD_ROOT)/guest

.PHONY: guest guest-verify
guest: deps
	$(Q)V=$(V) bash guest/build.sh $(GUEST_OUT)

guest-verify: guest
	$(Q)bash guest/verify.sh $(GUEST_OUT)
