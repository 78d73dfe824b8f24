# libFuzzer targets (clang), included by the top Makefile.
#   make fuzz                  build build/fuzz/fuzz_*
#   make fuzz-smoke            a short run of each (FUZZ_SECONDS, default 12)
#   build/fuzz/fuzz_api_http -max_total_time=3600 CORPUS tests/fuzz/seeds/api_http
# The library is rebuilt with clang and ASan+UBSan+fuzzer instrumentation
# in build/fuzz; warnings are not errors there (gcc's -Werror build is the
# one that gates commits). See docs/fuzzing.md.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 12
FUZZ_B := $(BUILD_ROOT)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# clang names the KVM ioctl idiom (struct kvm_msrs followed by its entries)
# a GNU extension; gcc builds the same code with -Werror.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -MMD -MP -pthread -fno-omit-frame-pointer \
	-Wall -Wno-unused-command-line-argument -Wno-gnu-variable-sized-type-not-at-end $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_B)/obj/%.o) $(FUZZ_B)/obj/gen/source_names.o
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_B)/%)

.PHONY: fuzz fuzz-smoke
.SECONDARY: $(FUZZ_SRCS:%.c=$(FUZZ_B)/obj/%.o)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/obj/gen/source_names.o: $(GEN_SOURCE_NAMES)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/libember.a: $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/tests/fuzz/fuzz_%.o $(FUZZ_B)/libember.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CC) -pthread $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_TARGETS)

# Each target runs FUZZ_SECONDS from its seeds; new inputs go to a scratch
# corpus, so the tree stays clean. Skipped when clang cannot build fuzzers.
fuzz-smoke:
	$(Q)if ! echo 'int LLVMFuzzerTestOneInput(const char*d,long n){(void)d;(void)n;return 0;}' | \
		$(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then \
		echo "fuzz: SKIPPED ($(FUZZ_CC) with -fsanitize=fuzzer unavailable: apt-get install clang)"; \
	else \
		$(MAKE) --no-print-directory fuzz && \
		for t in $(FUZZ_TARGETS); do \
			name=$$(basename $$t); seeds=tests/fuzz/seeds/$${name#fuzz_}; \
			scratch=$$(mktemp -d /tmp/ember-fuzz.XXXXXX); \
			ASAN_OPTIONS=detect_leaks=1 $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
				-print_final_stats=0 $$scratch $$seeds >$$scratch.log 2>&1; rc=$$?; \
			if [ $$rc -ne 0 ]; then tail -n 40 $$scratch.log; rm -rf $$scratch $$scratch.log; \
				echo "fuzz: $$name FAILED"; exit 1; fi; \
			echo "fuzz: $$name $$(grep -o 'DONE.*' $$scratch.log | head -n 1)"; \
			rm -rf $$scratch $$scratch.log; \
		done; \
	fi
