# Ember: non-recursive build. `make V=1` shows commands, `SANITIZE=1` builds
# with ASan+UBSan, `COVERAGE=1` with gcov. `make help` lists the targets.

CC := gcc
V ?= 0
SANITIZE ?= 0
COVERAGE ?= 0
Q := $(if $(filter 1,$(V)),,@)

BUILD_ROOT := build
ifeq ($(SANITIZE),1)
  B := $(BUILD_ROOT)/san
else
  B := $(BUILD_ROOT)
endif

CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-missing-field-initializers \
	-g -O2 -D_GNU_SOURCE -I. -MMD -MP -fno-strict-aliasing -pthread
LDFLAGS := -pthread -Wl,--as-needed
LDLIBS := -ljansson -lunicorn -lmicrohttpd -lseccomp -lcap -lm

ifeq ($(SANITIZE),1)
  CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(COVERAGE),1)
  CFLAGS += --coverage
  LDFLAGS += --coverage
endif

# Every .c under these folders but the programs' main files goes into libember.a.
MODULES := runtime config api virtio snapshots
MAIN_SRCS := runtime/main.c snapshots/editor/main.c snapshots/uffd/main.c
LIB_SRCS := $(filter-out $(MAIN_SRCS),$(shell find $(MODULES) -name '*.c' | LC_ALL=C sort))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(B)/obj/%.o)
GUEST_TEST_SRCS := $(wildcard tests/guests/*.S)
GUEST_TESTS := $(GUEST_TEST_SRCS:tests/guests/%.S=$(BUILD_ROOT)/tests/guests/%.elf)

# Debian packages the VMM and its tests need; `make deps` installs only the
# missing ones. The guest-image recipe adds its own list (guest/guest.mk).
DEB_PKGS := gcc make pkg-config libcriterion-dev libjansson-dev libunicorn-dev \
	libmicrohttpd-dev libseccomp-dev libcap-dev curl iproute2 qemu-system-x86 time \
	clang bc python3

.PHONY: all deps test layers unit integration guest run bench clean help
all: $(B)/ember $(B)/ember-snapshot-editor $(B)/ember-uffd-handler

help:
	@echo "make          build build/ember, build/ember-snapshot-editor and build/ember-uffd-handler"
	@echo "make deps     install missing Debian packages (apt-get)"
	@echo "make test     layer check, sanitizer build, unit and integration tests, fuzz smoke"
	@echo "make layers   check the one-way include rule between folders"
	@echo "make guest    build the guest kernel and images (cached in ~/.cache/ember)"
	@echo "make run      boot the demo microVM and print its console"
	@echo "make bench    benchmarks, side by side with QEMU microvm"
	@echo "make bench-snapshot  only the snapshot benchmark (bench/snapshot_bench.py; RUNS=n)"
	@echo "make tcg-dirty-bench  what TCG dirty tracking costs the guest (bench/tcg_dirty_bench.c)"
	@echo "make fuzz     build the libFuzzer targets (docs/fuzzing.md)"
	@echo "make guest-verify  boot the guest images under QEMU as a smoke test"

deps:
	$(Q)pkgs="$(sort $(DEB_PKGS) $(GUEST_PKGS))"; \
	have=$$(dpkg-query -W -f='$${Package} $${Status}\n' $$pkgs 2>/dev/null | awk '/ok installed/ {print $$1}'); \
	missing=$$(for p in $$pkgs; do echo "$$have" | grep -qx "$$p" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  APT     $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libember.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/ember: $(B)/obj/runtime/main.o $(B)/libember.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Writes a snapshot state file from the command line, for the integration
# tests and the fuzz seeds.
$(B)/tests/mkvmstate: $(B)/obj/tests/tools/mkvmstate.o $(B)/libember.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(B)/ember-snapshot-editor: $(B)/obj/snapshots/editor/main.o $(B)/libember.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# The reference page-fault handler for the Uffd memory backend.
$(B)/ember-uffd-handler: $(B)/obj/snapshots/uffd/main.o $(B)/libember.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -ljansson

# Plays a VMM restored with the Uffd backend, for the integration tests.
$(B)/tests/uffdvmm: $(B)/obj/tests/tools/uffdvmm.o $(B)/libember.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -ljansson

$(B)/unit-tests: $(UNIT_OBJS) $(B)/libember.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

# Bare-metal test guests: freestanding ELF64, loaded like a vmlinux.
$(BUILD_ROOT)/tests/guests/%.elf: tests/guests/%.S tests/guests/guest.ld tests/guests/guest.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GUEST   $@")
	$(Q)$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-T,tests/guests/guest.ld -I tests/guests -o $@ $<

# `make test` = sanitizer build, then every test; the last line of each
# suite is a summary CI can read. The guest images come first: the Linux
# tests boot them (built once, then cached in ~/.cache/ember).
test: deps layers guest
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 unit integration
	$(Q)$(MAKE) --no-print-directory fuzz-smoke

# The one-way include rule between folders (docs/architecture.md).
layers:
	$(Q)python3 tests/check_layers.py

unit: $(B)/unit-tests
	$(Q)ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		$(B)/unit-tests --jobs 2

integration: $(B)/ember $(B)/ember-snapshot-editor $(B)/ember-uffd-handler $(B)/tests/mkvmstate \
		$(B)/tests/uffdvmm $(GUEST_TESTS)
	$(Q)EMBER=$(B)/ember GUESTS=$(BUILD_ROOT)/tests/guests SNAPSHOT_EDITOR=$(B)/ember-snapshot-editor \
		MKVMSTATE=$(B)/tests/mkvmstate UFFD_HANDLER=$(B)/ember-uffd-handler \
		UFFDVMM=$(B)/tests/uffdvmm LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		bash tests/integration/run.sh

-include guest/guest.mk
-include bench/bench.mk
-include tests/fuzz/fuzz.mk

run: deps guest $(B)/ember
	$(Q)$(B)/ember --config-file config/demo.json --no-api

clean:
	rm -rf $(BUILD_ROOT)

-include $(shell find $(BUILD_ROOT) -name '*.d' 2>/dev/null)
