# make bench: every benchmark prints a table with Ember and QEMU's microvm
# side by side, from the same run. RUNS=n sets the repetitions.
BENCH_GUEST := $(BUILD_ROOT)/bench/pvhboot.elf
# Both VMMs get the same kernel parameters (Firecracker's i8042 settings).
BENCH_LINUX_ARGS := console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd

$(BENCH_GUEST): bench/guests/pvhboot.S bench/guests/pvh.ld
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GUEST   $@")
	$(Q)$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-T,bench/guests/pvh.ld -o $@ $<

bench: deps guest $(B)/ember $(B)/ember-jailer $(BENCH_GUEST)
	$(Q)python3 bench/boot_bench.py --ember $(B)/ember --kernel $(BENCH_GUEST) --accel kvm \
		--runs $(or $(RUNS),20) --title "Start-up, bare-metal PVH guest on KVM"
	$(Q)$(SMP_BENCH)
	$(Q)bash bench/api_bench.sh $(B)/ember 5000 $(or $(RUNS),10)
	$(Q)python3 bench/virtio_bench.py --ember $(B)/ember --kernel $(GUEST_OUT)/vmlinux --initrd $(GUEST_OUT)/initramfs.cpio.gz --append "$(BENCH_LINUX_ARGS)" --accel tcg --runs 2 --workdir $(BUILD_ROOT)/bench/virtio
	$(Q)$(SNAPSHOT_BENCH)
	$(Q)$(JAILER_BENCH)
	$(Q)$(TCG_BENCH)

# Linux boot to init (EMBER-GUEST-READY) with 1 and 4 vCPUs: Ember's
# software CPU vs QEMU's TCG both single-threaded (thread=single, as Ember
# runs its vCPUs) and with its default (multi-threaded for x86 on x86),
# same kernel, arguments and memory, runs interleaved; fails unless the
# kernel brought up every vCPU in every boot.
SMP_BENCH = python3 bench/boot_bench.py --ember $(B)/ember --kernel $(GUEST_OUT)/vmlinux \
	--initrd $(GUEST_OUT)/initramfs.cpio.gz --append "$(BENCH_LINUX_ARGS)" \
	--marker EMBER-GUEST-READY --accel tcg --runs $(or $(RUNS),10) \
	--vcpus 1,4 --qemu-tcg-threads single,default --check-cpus \
	--title "Linux boot to init on TCG, 1 and 4 vCPUs"

.PHONY: bench-smp
bench-smp: deps guest $(B)/ember
	$(Q)$(SMP_BENCH)

# Guest user space on the software CPU: in-guest microbenchmarks (loop,
# call/ret, indirect calls, memcpy, fork+exec, awk, gzip) on Ember's TCG
# vs QEMU's TCG with matching CPUID, same run. TCG_BENCH_ARGS adds options
# (--help lists them).
TCG_BENCH = python3 bench/tcg_bench.py --ember $(B)/ember --kernel $(GUEST_OUT)/vmlinux \
	--initrd $(GUEST_OUT)/initramfs.cpio.gz --append "$(BENCH_LINUX_ARGS)" \
	--runs $(or $(RUNS),2) --workdir $(BUILD_ROOT)/bench/tcg $(TCG_BENCH_ARGS)

.PHONY: bench-tcg
bench-tcg: deps guest $(B)/ember
	$(Q)$(TCG_BENCH)

# Snapshots of the Linux guest (tick overlay) on TCG, 128 and 512 MiB:
# create, restore, restore vs cold boot, 10 clones' memory, then where
# Ember's load time goes (perf uprobes; skipped with a reason when perf or
# root is missing). SNAPSHOT_BENCH_ARGS adds options (--help lists them).
SNAPSHOT_BENCH = python3 bench/snapshot_bench.py --ember $(B)/ember --kernel $(GUEST_OUT)/vmlinux \
	--initrd $(GUEST_OUT)/initramfs.cpio.gz --append "$(BENCH_LINUX_ARGS)" --accel tcg \
	--runs $(or $(RUNS),5) $(SNAPSHOT_BENCH_ARGS)

.PHONY: bench-snapshot
bench-snapshot: deps guest $(B)/ember
	$(Q)$(SNAPSHOT_BENCH)

# TCG dirty tracking's cost on guest speed (no QEMU counterpart: it is a
# cost inside Ember's software CPU). DIRTY_BENCH="PAGES BYTES FLUSH RUNS
# LOGS", see bench/tcg_dirty_bench.c.
$(B)/tcg-dirty-bench: bench/tcg_dirty_bench.c $(B)/libember.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libember.a $(LDLIBS)

.PHONY: tcg-dirty-bench
tcg-dirty-bench: $(B)/tcg-dirty-bench
	$(Q)$(B)/tcg-dirty-bench $(DIRTY_BENCH)

# The jailer's cost at start-up: ember-jailer start -> the jailed VMM's API
# socket answering, next to `ember --api-sock` alone, same run (root).
JAILER_BENCH = python3 bench/jailer_bench.py --ember $(B)/ember --jailer $(B)/ember-jailer \
	--runs $(or $(RUNS),20)

.PHONY: bench-jailer
bench-jailer: $(B)/ember $(B)/ember-jailer
	$(Q)$(JAILER_BENCH)
