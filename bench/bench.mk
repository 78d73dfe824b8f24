# make bench: every benchmark prints a table with Ember and QEMU's microvm
# side by side, from the same run.
BENCH_GUEST := $(BUILD_ROOT)/bench/pvhboot.elf

$(BENCH_GUEST): bench/guests/pvhboot.S bench/guests/pvh.ld
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GUEST   $@")
	$(Q)$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-T,bench/guests/pvh.ld -o $@ $<

bench: deps $(B)/ember $(BENCH_GUEST)
	$(Q)python3 bench/boot_bench.py --ember $(B)/ember --guest $(BENCH_GUEST) --runs $(or $(RUNS),20)
	$(Q)bash bench/api_bench.sh $(B)/ember 5000 $(or $(RUNS),10)
