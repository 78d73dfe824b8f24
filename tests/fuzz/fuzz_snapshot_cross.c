/* libFuzzer target: what a cross-backend restore decodes from a snapshot
 * file before it touches a VM. The first byte picks the part:
 *  0: vm/platform version 2 (x86_platform_decode): an accepted input is
 *     written back byte for byte (one encoding), and both backends'
 *     conversions take it or refuse it; a state the software CPU's chips
 *     took comes back out as a valid neutral state;
 *  1: a vCPU state carried to a software-CPU-like target (x86_carry): it
 *     either refuses or leaves what that target can hold;
 *  2: two CPUID tables compared (cpuid_compat): refusals are one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend/cpuid_compat.h"
#include "runtime/backend/kvm/kvm.h"
#include "runtime/backend/tcg/platform_neutral.h"
#include "runtime/backend/x86_carry.h"
#include "runtime/backend/x86_platform.h"

static void no_send(void *ctx, const struct tcg_apic_msg *msg)
{
	(void)ctx;
	(void)msg;
}

static void platform(const uint8_t *d, size_t n)
{
	struct x86_platform p, q;
	struct errbuf err = { "" };
	if (x86_platform_decode(d, n, &p, &err) < 0)
		return;
	uint8_t *buf = malloc(n);
	x86_platform_encode(&p, buf);
	if (memcmp(buf, d, n))
		abort();
	struct tcg_pic pic;
	struct tcg_pit pit;
	struct tcg_ioapic io;
	tcg_ioapic_init(&io, 0, no_send, NULL);
	if (tcg_platform_from_neutral(&p, 1000000000LL, &pic, &pit, &io, &err) == 0) {
		memset(&q, 0, sizeof(q));
		tcg_platform_to_neutral(&pic, &pit, &io, 1000000000LL, &q);
		x86_platform_encode(&q, buf);
		if (x86_platform_decode(buf, n, &q, &err) < 0)
			abort();
	}
	struct kvm_pic_state m, s;
	struct kvm_ioapic_state a;
	struct kvm_pit_state2 kp;
	struct kvm_clock_data c;
	kvm_platform_from_neutral(&p, &m, &s, &a, &kp, &c, &err);
	free(buf);
}

static bool models(void *ctx, uint32_t index)
{
	(void)ctx;
	return index == 0x10 || index == 0x277 || (index >= 0x174 && index <= 0x176);
}

static void vcpu(const uint8_t *d, size_t n)
{
	struct x86_cpu_state *st = calloc(1, sizeof(*st));
	memcpy(st, d, n < sizeof(*st) ? n : sizeof(*st));
	struct x86_target t = { .desc = "T", .mp_states = 0xd, .models_msr = models };
	struct errbuf err = { "" };
	if (x86_state_carry(st, "S", &t, &err) == 0) {
		if (st->nr_msrs > X86_MAX_MSRS || (st->flags & X86_STATE_HAS_XSAVE))
			abort();
		for (uint32_t i = 0; i < st->nr_msrs; i++)
			if (!models(NULL, st->msrs[i].index))
				abort();
	} else if (!memchr(err.msg, 0, sizeof(err.msg))) {
		abort();
	}
	free(st);
}

static void cpuid(const uint8_t *d, size_t n)
{
	size_t count = n / sizeof(struct cpuid_entry);
	struct cpuid_entry *e = malloc((count ? count : 1) * sizeof(*e));
	memcpy(e, d, count * sizeof(*e));
	size_t half = count / 2;
	struct errbuf err = { "" };
	cpuid_compat_check(e, half, e + half, count - half, "S", "T", &err);
	cpuid_vendor_check(e, half, "GenuineIntel", "S", "T", &err);
	if (!memchr(err.msg, 0, sizeof(err.msg)))
		abort();
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: platform(data + 1, size - 1); break;
	case 1: vcpu(data + 1, size - 1); break;
	default: cpuid(data + 1, size - 1); break;
	}
	return 0;
}
