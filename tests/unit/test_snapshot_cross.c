/* Snapshots across backends, host-side: the CPUID compatibility check
 * (named and unnamed bits, state bits, vendor, XCR0), carrying a vCPU
 * state (the MSR filter, XSAVE to FXSAVE, events), the neutral platform
 * encoding with hostile input, and both backends' chips converted to the
 * neutral form and back (crafted states, round trips, refusals). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/backend/cpuid_compat.h"
#include "runtime/backend/kvm/kvm.h"
#include "runtime/backend/tcg/platform_neutral.h"
#include "runtime/backend/x86_carry.h"
#include "runtime/backend/x86_platform.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define INTEL 0x756e6547, 0x6c65746e, 0x49656e69 /* ebx, ecx, edx */

static const struct cpuid_entry target[] = {
	{ .function = 0, .eax = 0xd, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69 },
	{ .function = 1, .ecx = 0x80000201, .edx = 0x0f8bfbff },
	{ .function = 7, .index = 0, .flags = 1, .ebx = 0x00000009 },
	{ .function = 0xd, .index = 0, .flags = 1, .eax = 0x3 },
	{ .function = 0x80000001, .ecx = 1, .edx = 0x20100800 },
};

static struct cpuid_entry saved[N(target)];
static struct errbuf err;

static void setup(void)
{
	memcpy(saved, target, sizeof(saved));
	memset(&err, 0, sizeof(err));
}

static int check(void)
{
	return cpuid_compat_check(saved, N(saved), target, N(target), "kvm",
				  "the software CPU (tcg)", &err);
}

TestSuite(snapshot_cross_cpuid, .init = setup);

Test(snapshot_cross_cpuid, same_table_passes)
{
	cr_assert_eq(check(), 0);
}

Test(snapshot_cross_cpuid, named_bit_refused_with_its_name)
{
	saved[2].ebx |= 1u << 5; /* avx2 */
	cr_assert_eq(check(), -ENOTSUP);
	cr_assert_str_eq(err.msg, "the guest was offered avx2 (CPUID.(EAX=7,ECX=0):EBX[5]) on "
				  "kvm; the software CPU (tcg) lacks it");
}

Test(snapshot_cross_cpuid, unnamed_bit_refused_by_position)
{
	saved[2].ebx |= 1u << 2; /* SGX: no name in the table */
	cr_assert_eq(check(), -ENOTSUP);
	cr_assert(strstr(err.msg, "the feature CPUID.(EAX=7,ECX=0):EBX[2] on kvm"), "%s",
		  err.msg);
}

Test(snapshot_cross_cpuid, first_missing_is_named)
{
	saved[1].ecx |= (1u << 28) | (1u << 26); /* avx, xsave: xsave comes first */
	cr_assert_eq(check(), -ENOTSUP);
	cr_assert(strstr(err.msg, "offered xsave (CPUID.(EAX=1,ECX=0):ECX[26])"), "%s", err.msg);
}

Test(snapshot_cross_cpuid, state_and_topology_bits_ignored)
{
	saved[1].edx |= 1u << 28; /* HTT */
	saved[1].ecx |= 1u << 27; /* OSXSAVE */
	cr_assert_eq(check(), 0);
}

Test(snapshot_cross_cpuid, subleaf_and_extended_leaves)
{
	struct cpuid_entry more[N(target) + 1];
	memcpy(more, saved, sizeof(saved));
	more[N(target)] = (struct cpuid_entry){ .function = 7, .index = 1, .flags = 1,
						.eax = 1u << 4 };
	cr_assert_eq(cpuid_compat_check(more, N(more), target, N(target), "kvm", "T", &err),
		     -ENOTSUP);
	cr_assert(strstr(err.msg, "avx_vnni (CPUID.(EAX=7,ECX=1):EAX[4])"), "%s", err.msg);
	saved[4].edx |= 1u << 27;
	cr_assert_eq(check(), -ENOTSUP);
	cr_assert(strstr(err.msg, "rdtscp"), "%s", err.msg);
}

Test(snapshot_cross_cpuid, xcr0_components)
{
	saved[3].eax = 0x7; /* x87, SSE, AVX */
	cr_assert_eq(check(), -ENOTSUP);
	cr_assert(strstr(err.msg, "the XSAVE component avx (YMM) (CPUID.(EAX=0xd,ECX=0):EAX[2])"),
		  "%s", err.msg);
	/* x87 and SSE alone: every x86-64 CPU holds them. */
	struct cpuid_entry none[N(target)];
	memcpy(none, target, sizeof(none));
	none[3].eax = 0;
	saved[3].eax = 0x3;
	cr_assert_eq(cpuid_compat_check(saved, N(saved), none, N(none), "kvm", "T", &err), 0);
	saved[3].edx = 1u << 1; /* XCR0 bit 33 */
	cr_assert_eq(check(), -ENOTSUP);
	cr_assert(strstr(err.msg, "CPUID.(EAX=0xd,ECX=0):EDX[1]"), "%s", err.msg);
}

Test(snapshot_cross_cpuid, vendor)
{
	cr_assert_eq(cpuid_vendor_check(saved, N(saved), "GenuineIntel", "tcg", "K", &err), 0);
	cr_assert_eq(cpuid_vendor_check(saved, N(saved), "AuthenticAMD", "tcg", "K", &err),
		     -ENOTSUP);
	cr_assert(strstr(err.msg, "vendor \"GenuineIntel\" on tcg; K runs AuthenticAMD's"), "%s",
		  err.msg);
	/* Bytes from a file stay printable in the message. */
	saved[0].ebx = 0x01020304;
	cpuid_vendor_check(saved, N(saved), "GenuineIntel", "tcg", "K", &err);
	cr_assert(strstr(err.msg, "\"????ineIntel\""), "%s", err.msg);
}

/* ---- vCPU state ---- */

static const uint32_t modelled[] = { 0x10, 0x174, 0x17b, 0x277, 0xc0000081 };

static bool models(void *ctx, uint32_t index)
{
	(void)ctx;
	for (size_t i = 0; i < N(modelled); i++)
		if (modelled[i] == index)
			return true;
	return false;
}

static const struct x86_target tcg_like = {
	.desc = "the software CPU (tcg)",
	.mp_states = 1u << X86_MP_RUNNABLE | 1u << X86_MP_HALTED,
	.models_msr = models,
};

static struct x86_cpu_state *state(void)
{
	struct x86_cpu_state *st = calloc(1, sizeof(*st));
	cr_assert(st);
	st->version = X86_CPU_STATE_VERSION;
	st->flags = X86_STATE_HAS_EVENTS;
	return st;
}

static void add_msr(struct x86_cpu_state *st, uint32_t index, uint64_t value)
{
	st->msrs[st->nr_msrs++] = (struct x86_msr){ .index = index, .value = value };
}

Test(snapshot_cross_state, msrs_kept_dropped_refused)
{
	struct x86_cpu_state *st = state();
	add_msr(st, 0x10, 12345);		 /* modelled: kept */
	add_msr(st, 0x4b564d01, 0);		 /* kvmclock off: dropped */
	add_msr(st, 0x10a, 0xc0a0c4c);		 /* describes the CPU: dropped */
	add_msr(st, 0x4b564d05, 1);		 /* poll control at its default */
	add_msr(st, 0x401, 0);			 /* MC0_STATUS, unnamed, 0 */
	add_msr(st, 0x400, ~0ull);		 /* MC0_CTL at power-on */
	add_msr(st, 0x277, 0x0007040600070406); /* modelled */
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), 0, "%s", err.msg);
	cr_assert_eq(st->nr_msrs, 2);
	cr_assert_eq(st->msrs[0].index, 0x10);
	cr_assert_eq(st->msrs[0].value, 12345);
	cr_assert_eq(st->msrs[1].index, 0x277);
	cr_assert_eq(st->msrs[2].index, 0);
	free(st);
}

/* IA32_MCG_CTL exists as the source's MCG_CAP says: at a power-on value
 * it is dropped though the target models it; set otherwise it is kept. */
Test(snapshot_cross_state, mcg_ctl_follows_the_target)
{
	struct x86_cpu_state *st = state();
	add_msr(st, 0x17b, ~0ull);
	cr_assert_eq(x86_state_carry(st, "tcg", &tcg_like, &err), 0, "%s", err.msg);
	cr_assert_eq(st->nr_msrs, 0);
	free(st);
	st = state();
	add_msr(st, 0x17b, 0);
	cr_assert_eq(x86_state_carry(st, "tcg", &tcg_like, &err), 0, "%s", err.msg);
	cr_assert_eq(st->nr_msrs, 0);
	free(st);
	st = state();
	add_msr(st, 0x17b, 0x5);
	cr_assert_eq(x86_state_carry(st, "tcg", &tcg_like, &err), 0, "%s", err.msg);
	cr_assert_eq(st->nr_msrs, 1);
	cr_assert_eq(st->msrs[0].value, 0x5);
	free(st);
}

Test(snapshot_cross_state, enabled_kvmclock_refused_by_name)
{
	struct x86_cpu_state *st = state();
	add_msr(st, 0x4b564d01, 0x1234001);
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	cr_assert_str_eq(err.msg, "MSR 0x4b564d01 (MSR_KVM_SYSTEM_TIME_NEW (kvmclock)) holds "
				  "0x1234001 on kvm; the software CPU (tcg) does not model it");
	free(st);
	st = state();
	add_msr(st, 0x12345, 7); /* unknown MSR, not at 0 */
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "MSR 0x12345 holds 0x7"), "%s", err.msg);
	free(st);
	st = state();
	st->nr_msrs = X86_MAX_MSRS + 1; /* hostile */
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -EINVAL);
	free(st);
}

Test(snapshot_cross_state, xsave_to_fxsave)
{
	struct x86_cpu_state *st = state();
	st->flags |= X86_STATE_HAS_XSAVE;
	st->xcr0 = 3;
	for (int i = 0; i < 512; i++)
		st->xsave[i] = (uint8_t)i;
	uint64_t bv = 3;
	memcpy(st->xsave + 512, &bv, 8);
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(st->fxsave, (uint8_t[512]){ 0 }, 0), 0);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(st->fxsave[i], (uint8_t)i);
	cr_assert_eq(st->flags & X86_STATE_HAS_XSAVE, 0);
	cr_assert_eq(st->xcr0, 0);
	for (size_t i = 0; i < sizeof(st->xsave); i++)
		cr_assert_eq(st->xsave[i], 0);
	free(st);

	/* Components in their initial state (XSTATE_BV clear) are written so. */
	st = state();
	st->flags |= X86_STATE_HAS_XSAVE;
	st->xcr0 = 3;
	memset(st->xsave, 0xee, 512);
	memset(st->xsave + 512, 0, 8);
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), 0);
	uint16_t fcw;
	memcpy(&fcw, st->fxsave, 2);
	cr_assert_eq(fcw, 0x37f);
	cr_assert_eq(st->fxsave[4], 0);  /* tag word: empty */
	cr_assert_eq(st->fxsave[160], 0); /* XMM0 */
	cr_assert_eq(st->fxsave[24], 0xee); /* MXCSR stays */
	free(st);
}

Test(snapshot_cross_state, xsave_beyond_sse_refused)
{
	struct x86_cpu_state *st = state();
	st->flags |= X86_STATE_HAS_XSAVE;
	st->xcr0 = 7;
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "XCR0 is 0x7 on kvm"), "%s", err.msg);
	st->xcr0 = 3;
	st->sregs.cr4 = X86_CR4_OSXSAVE;
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "CR4.OSXSAVE"), "%s", err.msg);
	/* A target with XSAVE keeps it all. */
	struct x86_target k = tcg_like;
	k.has_xsave = true;
	st->xcr0 = 7;
	cr_assert_eq(x86_state_carry(st, "tcg", &k, &err), 0);
	cr_assert(st->flags & X86_STATE_HAS_XSAVE);
	free(st);
}

static void set_apic_bit(uint8_t *page, unsigned base, unsigned vec)
{
	page[base + 0x10 * (vec / 32) + (vec % 32) / 8] |= (uint8_t)(1u << (vec % 8));
}

/* An APIC interrupt KVM had taken but not delivered goes back to IRR. */
Test(snapshot_cross_state, injected_apic_interrupt_requeued)
{
	struct x86_cpu_state *st = state();
	st->flags |= X86_STATE_HAS_LAPIC;
	st->events.interrupt_injected = 1;
	st->events.interrupt_nr = 0x40;
	set_apic_bit(st->lapic, 0x100, 0x40); /* ISR */
	set_apic_bit(st->lapic, 0x100, 0x31); /* a lower one in service too */
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), 0, "%s", err.msg);
	cr_assert_eq(st->events.interrupt_injected, 0);
	cr_assert_eq(st->lapic[0x100 + 0x20], 0);    /* ISR bit 0x40 cleared */
	cr_assert_eq(st->lapic[0x200 + 0x20], 0x01); /* IRR bit 0x40 set */
	cr_assert_eq(st->lapic[0x100 + 0x10 + 2], 0x02); /* 0x31 stays */
	free(st);
	/* Not the highest in service, or not in the page (the 8259's): refused. */
	st = state();
	st->flags |= X86_STATE_HAS_LAPIC;
	st->events.interrupt_injected = 1;
	st->events.interrupt_nr = 0x40;
	set_apic_bit(st->lapic, 0x100, 0x40);
	set_apic_bit(st->lapic, 0x100, 0x50);
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	st->lapic[0x100 + 0x20] = 0;
	st->lapic[0x100 + 0x20 + 2] = 0;
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "an interrupt is in flight"), "%s", err.msg);
	free(st);
}

Test(snapshot_cross_state, events_and_mp_state)
{
	struct x86_cpu_state *st = state();
	st->events.interrupt_shadow = 1;
	st->events.sipi_vector = 0x9a;
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), 0);
	cr_assert_eq(st->events.interrupt_shadow, 1);
	cr_assert_eq(st->events.sipi_vector, 0);
	st->events.interrupt_injected = 1;
	st->events.interrupt_nr = 0x40;
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "an interrupt is in flight on kvm"), "%s", err.msg);
	struct x86_target k = tcg_like;
	k.all_events = true;
	cr_assert_eq(x86_state_carry(st, "kvm", &k, &err), 0);
	cr_assert_eq(st->events.interrupt_nr, 0x40);
	st->mp_state = X86_MP_SIPI_RECEIVED;
	cr_assert_eq(x86_state_carry(st, "kvm", &k, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "MP state 4 on kvm"), "%s", err.msg);
	/* An AP before INIT waits for SIPI where that is all there is. */
	struct x86_target aps = tcg_like;
	aps.mp_states |= 1u << X86_MP_INIT_RECEIVED;
	st->events.interrupt_injected = 0;
	st->mp_state = X86_MP_UNINITIALIZED;
	cr_assert_eq(x86_state_carry(st, "kvm", &aps, &err), 0, "%s", err.msg);
	cr_assert_eq(st->mp_state, X86_MP_INIT_RECEIVED);
	st->mp_state = X86_MP_UNINITIALIZED;
	cr_assert_eq(x86_state_carry(st, "kvm", &tcg_like, &err), -ENOTSUP);
	st->mp_state = 9;
	cr_assert_eq(x86_state_carry(st, "kvm", &k, &err), -EINVAL);
	free(st);
}

/* ---- the neutral platform ---- */

/* A platform as Linux leaves it: PICs initialised (vectors 0x30/0x38,
 * ICW4), the PIT's channel 0 periodic at 1000 Hz, channel 2 one-shot with
 * its gate low, the I/O APIC with two pins routed. */
static struct x86_platform linux_like(void)
{
	struct x86_platform p;
	memset(&p, 0, sizeof(p));
	p.pic[0] = (struct x86_pic_state){ .last_irr = 0x01, .irr = 0x01, .imr = 0xfa,
					   .irq_base = 0x30, .init4 = 1, .elcr_mask = 0xf8,
					   .priority_add = 3 };
	p.pic[1] = (struct x86_pic_state){ .imr = 0xff, .irq_base = 0x38, .init4 = 1,
					   .elcr = 0x02, .elcr_mask = 0xde };
	p.ioapic.id = 1;
	p.ioapic.ioregsel = 0x12;
	p.ioapic.irr = 1u << 4;
	p.ioapic.level = 1u << 4;
	for (int i = 0; i < X86_IOAPIC_PINS; i++)
		p.ioapic.redir[i] = 1ull << 16;
	p.ioapic.redir[2] = 0x30;
	p.ioapic.redir[4] = 0x0100000000008034ull;
	p.pit[0] = (struct x86_pit_channel){ .count = 1193, .rw_mode = 3, .read_state = 3,
					     .write_state = 3, .mode = 2, .gate = 1, .counting = 1,
					     .elapsed_ns = 123456 };
	p.pit[1] = (struct x86_pit_channel){ .count = 65536, .rw_mode = 3, .read_state = 3,
					     .write_state = 3, .gate = 1 };
	p.pit[2] = (struct x86_pit_channel){ .count = 0xffff, .rw_mode = 3, .read_state = 4,
					     .write_state = 3, .mode = 0, .gate = 0,
					     .counting = 1, .frozen_ticks = 77,
					     .count_latched = 2, .latched_count = 0x1234 };
	p.speaker_data_on = 1;
	p.realtime_ns = 1700000000000000000ull;
	return p;
}

static void roundtrip(const struct x86_platform *p)
{
	size_t n = x86_platform_size();
	uint8_t *buf = malloc(n);
	struct x86_platform q;
	x86_platform_encode(p, buf);
	cr_assert_eq(x86_platform_decode(buf, n, &q, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(p, &q, sizeof(q)), 0);
	free(buf);
}

Test(snapshot_cross_platform, encoding_round_trip)
{
	struct x86_platform p = linux_like();
	roundtrip(&p);
	p.flags = X86_PLATFORM_HAS_KVMCLOCK;
	p.kvmclock_ns = 5;
	p.kvmclock_flags = 4;
	p.kvmclock_realtime_ns = 99;
	roundtrip(&p);
}

/* Each hostile change alone is refused, naming where. */
static const char *poke(struct x86_platform *p, int i)
{
	switch (i) {
	case 0: p->pic[0].priority_add = 8; return "PIC master";
	case 1: p->pic[1].irq_base = 0x39; return "PIC slave";
	case 2: p->pic[0].init_state = 4; return "PIC master";
	case 3: p->pic[0].elcr = 0x01; return "PIC master";
	case 4: p->pic[1].poll = 2; return "PIC slave";
	case 5: p->ioapic.id = 16; return "I/O APIC";
	case 6: p->ioapic.irr = 1u << 24; return "I/O APIC";
	case 7: p->ioapic.redir[3] = 1ull << 20; return "pin 3";
	case 8: p->pit[0].count = 0; return "PIT channel 0";
	case 9: p->pit[0].count = 65537; return "PIT channel 0";
	case 10: p->pit[1].mode = 6; return "PIT channel 1";
	case 11: p->pit[1].rw_mode = 0; return "PIT channel 1";
	case 12: p->pit[0].read_state = 1; return "PIT channel 0";
	case 13: p->pit[2].count_latched = 1; return "PIT channel 2";
	case 14: p->pit[0].gate = 0; return "PIT channel 0";
	case 15: p->pit[0].elapsed_ns = 1ull << 62; return "PIT channel 0";
	case 16: p->pit[1].elapsed_ns = 1; return "PIT channel 1";
	case 17: p->pit[2].elapsed_ns = 1; return "PIT channel 2";
	case 18: p->hpet_legacy = 2; return "PIT";
	case 19: p->kvmclock_ns = 1; return "kvmclock";
	case 20: p->flags = 2; return "flags";
	case 21: p->realtime_ns = 1ull << 63; return "wall-clock";
	default: return NULL;
	}
}

Test(snapshot_cross_platform, hostile_values_refused)
{
	size_t n = x86_platform_size();
	uint8_t *buf = malloc(n);
	const char *what;
	for (int i = 0; (what = poke(&(struct x86_platform){ 0 }, i)); i++) {
		struct x86_platform p = linux_like(), q;
		poke(&p, i);
		x86_platform_encode(&p, buf);
		cr_assert_eq(x86_platform_decode(buf, n, &q, &err), -EBADMSG, "case %d", i);
		cr_assert(strstr(err.msg, what), "case %d: %s", i, err.msg);
	}
	struct x86_platform p = linux_like(), q;
	x86_platform_encode(&p, buf);
	cr_assert_eq(x86_platform_decode(buf, n - 1, &q, &err), -EBADMSG);
	cr_assert_eq(x86_platform_decode(NULL, n, &q, &err), -EBADMSG);
	free(buf);
}

/* ---- the software CPU's chips ---- */

static void no_send(void *ctx, const struct tcg_apic_msg *msg)
{
	(void)ctx;
	(void)msg;
}

#define NOW 5000000000LL

Test(snapshot_cross_platform, tcg_from_neutral_and_back)
{
	struct x86_platform p = linux_like(), q;
	struct tcg_pic pic;
	struct tcg_pit pit;
	struct tcg_ioapic io;
	tcg_ioapic_init(&io, 1, no_send, NULL);
	cr_assert_eq(tcg_platform_from_neutral(&p, NOW, &pic, &pit, &io, &err), 0, "%s", err.msg);
	cr_assert_eq(io.send, no_send);
	memset(&q, 0, sizeof(q));
	q.realtime_ns = p.realtime_ns;
	tcg_platform_to_neutral(&pic, &pit, &io, NOW, &q);
	cr_assert_eq(memcmp(&p, &q, sizeof(q)), 0);
}

Test(snapshot_cross_platform, tcg_chips_to_neutral_and_back)
{
	struct tcg_pic pic, pic2;
	struct tcg_pit pit, pit2;
	struct tcg_ioapic io, io2;
	tcg_pic_init(&pic);
	/* Linux's init: ICW1..ICW4 on both, then masks. */
	const uint8_t icw[2][4] = { { 0x11, 0x30, 0x04, 0x01 }, { 0x11, 0x38, 0x02, 0x01 } };
	for (int c = 0; c < 2; c++) {
		uint16_t base = c ? 0xa0 : 0x20;
		tcg_pic_write(&pic, base, icw[c][0]);
		for (int k = 1; k < 4; k++)
			tcg_pic_write(&pic, base + 1, icw[c][k]);
	}
	tcg_pic_write(&pic, 0x21, 0xfa);
	tcg_pic_set_irq(&pic, 0, true);
	tcg_pic_write(&pic, 0xa0, 0x11); /* slave half-way through a new init */
	tcg_pit_init(&pit, NOW - 1000000);
	tcg_pit_write(&pit, 0x43, 0x34, NOW - 900000); /* channel 0, LSB/MSB, mode 2 */
	tcg_pit_write(&pit, 0x40, 0xa9, NOW - 900000);
	tcg_pit_write(&pit, 0x40, 0x04, NOW - 800000);
	tcg_pit_write(&pit, 0x43, 0xb0, NOW - 700000); /* channel 2, mode 0 */
	tcg_pit_write(&pit, 0x42, 0x10, NOW - 700000); /* LSB written, MSB due */
	tcg_pit_write(&pit, 0x43, 0x00, NOW - 600000); /* latch channel 0 */
	tcg_pit_read(&pit, 0x40, NOW - 500000);        /* LSB of the latch read */
	tcg_ioapic_init(&io, 2, no_send, NULL);
	tcg_ioapic_write(&io, 0x00, 0x10 + 2 * 4);
	tcg_ioapic_write(&io, 0x10, 0x8031);
	tcg_ioapic_set_irq(&io, 4, true);

	struct x86_platform p;
	memset(&p, 0, sizeof(p));
	tcg_platform_to_neutral(&pic, &pit, &io, NOW, &p);
	/* Through the file format too. */
	size_t n = x86_platform_size();
	uint8_t *buf = malloc(n);
	x86_platform_encode(&p, buf);
	cr_assert_eq(x86_platform_decode(buf, n, &p, &err), 0, "%s", err.msg);
	free(buf);
	cr_assert_eq(p.pic[1].init_state, 1); /* KVM's numbering: ICW2 due */
	cr_assert_eq(p.pit[0].count, 1193);
	cr_assert_eq(p.pit[0].count_latched, X86_PIT_RW_MSB);
	cr_assert_eq(p.pit[2].write_state, X86_PIT_RW_WORD1);
	cr_assert_eq(p.pit[0].elapsed_ns, 800000);
	tcg_ioapic_init(&io2, 0, no_send, NULL);
	cr_assert_eq(tcg_platform_from_neutral(&p, NOW, &pic2, &pit2, &io2, &err), 0, "%s",
		     err.msg);
	uint8_t a[TCG_PIT_STATE_SIZE], b[TCG_PIT_STATE_SIZE];
	uint8_t c1[TCG_PIC_STATE_SIZE], c2[TCG_PIC_STATE_SIZE];
	uint8_t i1[TCG_IOAPIC_STATE_SIZE], i2[TCG_IOAPIC_STATE_SIZE];
	tcg_pit_save(&pit, NOW, a);
	tcg_pit_save(&pit2, NOW, b);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	tcg_pic_save(&pic, c1);
	tcg_pic_save(&pic2, c2);
	cr_assert_eq(memcmp(c1, c2, sizeof(c1)), 0);
	tcg_ioapic_save(&io, i1);
	tcg_ioapic_save(&io2, i2);
	cr_assert_eq(memcmp(i1, i2, sizeof(i1)), 0);
}

Test(snapshot_cross_platform, tcg_refuses_what_it_cannot_be)
{
	struct tcg_pic pic;
	struct tcg_pit pit;
	struct tcg_ioapic io;
	tcg_ioapic_init(&io, 0, no_send, NULL);
	struct tcg_ioapic before = io;
	struct x86_platform p = linux_like();
	p.hpet_legacy = 1;
	cr_assert_eq(tcg_platform_from_neutral(&p, NOW, &pic, &pit, &io, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "HPET"), "%s", err.msg);
	p = linux_like();
	p.pic[1].special_fully_nested_mode = 1;
	cr_assert_eq(tcg_platform_from_neutral(&p, NOW, &pic, &pit, &io, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "slave 8259 is in special fully nested mode"), "%s", err.msg);
	/* The master's cascade input must be the slave's output. */
	p = linux_like();
	p.pic[1].irr = 0x01;
	p.pic[1].imr = 0;
	cr_assert_eq(tcg_platform_from_neutral(&p, NOW, &pic, &pit, &io, &err), -EINVAL);
	cr_assert(strstr(err.msg, "PIC"), "%s", err.msg);
	/* ICW3 pending in single mode cannot be. */
	p = linux_like();
	p.pic[0].single_mode = 1;
	p.pic[0].init_state = 2;
	cr_assert_eq(tcg_platform_from_neutral(&p, NOW, &pic, &pit, &io, &err), -EINVAL);
	cr_assert_eq(memcmp(&io, &before, sizeof(io)), 0);
}

/* ---- KVM's chips (plain structs: no /dev/kvm needed) ---- */

Test(snapshot_cross_platform, kvm_from_neutral_and_back)
{
	struct x86_platform p = linux_like(), q;
	p.pic[0].special_fully_nested_mode = 1;
	p.flags = X86_PLATFORM_HAS_KVMCLOCK;
	p.kvmclock_ns = 123;
	p.kvmclock_flags = KVM_CLOCK_TSC_STABLE;
	struct kvm_pic_state m, s;
	struct kvm_ioapic_state a;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	cr_assert_eq(kvm_platform_from_neutral(&p, &m, &s, &a, &pit, &clock, &err), 0);
	cr_assert_eq(a.base_address, 0xfec00000ULL);
	cr_assert_eq(pit.channels[1].mode, 0xff); /* never loaded, KVM's way */
	cr_assert_eq(pit.flags, KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	/* KVM's load time: elapsed as the neutral form says. */
	pit.channels[0].count_load_time = NOW - 123456;
	kvm_platform_to_neutral(&m, &s, &a, &pit, &clock, NOW, &q);
	q.realtime_ns = p.realtime_ns;
	/* What KVM does not know: line levels and a frozen 8254 count. */
	p.ioapic.level = 0;
	p.pit[2].frozen_ticks = 0;
	cr_assert_eq(memcmp(&p, &q, sizeof(q)), 0);
	/* Single mode is no state KVM's 8259 has. */
	p.pic[1].single_mode = 1;
	cr_assert_eq(kvm_platform_from_neutral(&p, &m, &s, &a, &pit, &clock, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "slave 8259 is in single mode"), "%s", err.msg);
}

/* KVM's chips -> neutral -> software CPU -> neutral -> KVM's: unchanged. */
Test(snapshot_cross_platform, kvm_to_tcg_to_kvm)
{
	struct kvm_pic_state m = { .last_irr = 0x04, .irr = 0x04, .imr = 0xf8, .irq_base = 0x20,
				   .init4 = 1, .elcr_mask = 0xf8, .read_reg_select = 1 };
	struct kvm_pic_state s = { .last_irr = 0x10, .irr = 0x10, .imr = 0xe0, .irq_base = 0x28,
				   .init4 = 1, .elcr = 0x0c, .elcr_mask = 0xde };
	struct kvm_ioapic_state a = { .base_address = 0xfec00000ULL, .id = 0, .ioregsel = 0x10 };
	for (int i = 0; i < X86_IOAPIC_PINS; i++)
		a.redirtbl[i].bits = 0x10000;
	a.redirtbl[9].bits = 0x0000000000008039ull;
	struct kvm_pit_state2 pit = { .flags = 0 };
	for (int i = 0; i < 3; i++)
		pit.channels[i] = (struct kvm_pit_channel_state){ .count = 65536, .mode = 0xff,
								  .gate = i != 2 };
	pit.channels[0] = (struct kvm_pit_channel_state){
		.count = 11932, .rw_mode = 3, .read_state = 3, .write_state = 3, .mode = 2,
		.gate = 1, .count_load_time = NOW - 4000000, .status_latched = 1, .status = 0x34 };
	struct kvm_clock_data clock = { .clock = 1 };
	struct x86_platform p, q;
	kvm_platform_to_neutral(&m, &s, &a, &pit, &clock, NOW, &p);
	cr_assert_eq(p.pit[0].elapsed_ns, 4000000);
	cr_assert_eq(p.pit[1].counting, 0);
	struct tcg_pic tp;
	struct tcg_pit tt;
	struct tcg_ioapic ti;
	tcg_ioapic_init(&ti, 0, no_send, NULL);
	cr_assert_eq(tcg_platform_from_neutral(&p, NOW, &tp, &tt, &ti, &err), 0, "%s", err.msg);
	memset(&q, 0, sizeof(q));
	tcg_platform_to_neutral(&tp, &tt, &ti, NOW, &q);
	q.flags = p.flags;
	q.kvmclock_ns = p.kvmclock_ns;
	cr_assert_eq(memcmp(&p, &q, sizeof(q)), 0);
	struct kvm_pic_state m2, s2;
	struct kvm_ioapic_state a2;
	struct kvm_pit_state2 pit2;
	struct kvm_clock_data c2;
	cr_assert_eq(kvm_platform_from_neutral(&q, &m2, &s2, &a2, &pit2, &c2, &err), 0);
	cr_assert_eq(memcmp(&m, &m2, sizeof(m)), 0);
	cr_assert_eq(memcmp(&s, &s2, sizeof(s)), 0);
	cr_assert_eq(memcmp(&a, &a2, sizeof(a)), 0);
	pit.channels[0].count_load_time = 0; /* KVM sets its own on load */
	/* A channel never loaded comes back in the power-on byte order the
	 * neutral form gives it (LSB then MSB), still never loaded. */
	for (int i = 1; i < 3; i++) {
		cr_assert_eq(pit2.channels[i].mode, 0xff);
		cr_assert_eq(pit2.channels[i].rw_mode, 3);
		pit2.channels[i].rw_mode = pit2.channels[i].read_state = 0;
		pit2.channels[i].write_state = 0;
	}
	cr_assert_eq(memcmp(&pit, &pit2, sizeof(pit)), 0);
}
