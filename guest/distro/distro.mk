# Debian's stock kernel on Ember (docs/distro-kernels.md), included by the
# top Makefile. `make distro` fetches and builds the artifacts (cached in
# ~/.cache/ember), `make test-distro` is their suite (not part of
# `make test`), `make bench-distro` boots Debian against QEMU's microvm.

# Debian packages guest/distro/*.sh and the suite need (`make deps`).
DISTRO_PKGS := apt debootstrap e2fsprogs cpio gzip kmod busybox-static util-linux iproute2 \
	qemu-system-x86 python3 bc

DISTRO_OUT := $(BUILD_ROOT)/distro
DISTRO_ENV = EMBER=$(B)/ember DISTRO=$(DISTRO_OUT) TSC_KHZ_TOOL=$(B)/tests/tsc-khz

.PHONY: distro test-distro bench-distro
distro: deps
	$(Q)bash guest/distro/build.sh $(DISTRO_OUT)

# TESTS=REGEX runs only the matching tests.
test-distro: distro $(B)/ember $(B)/tests/tsc-khz
	$(Q)$(DISTRO_ENV) bash tests/distro/run.sh

bench-distro: distro $(B)/ember $(B)/tests/tsc-khz
	$(Q)python3 bench/distro_bench.py --ember $(B)/ember --distro $(DISTRO_OUT) \
		--tsc-khz "$$($(B)/tests/tsc-khz)" --runs $(or $(RUNS),3)
