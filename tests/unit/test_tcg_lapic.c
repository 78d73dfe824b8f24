/* runtime/backend/tcg/lapic.c: the local APIC on a made-up clock. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/lapic.h"

static struct tcg_apic_msg msg;
static int eoi;

static bool wr(struct tcg_lapic *l, uint32_t off, uint32_t val, int64_t now)
{
	return tcg_lapic_write(l, off, val, now, &msg, &eoi);
}

static void enabled(struct tcg_lapic *l, unsigned index)
{
	tcg_lapic_init(l, index);
	wr(l, TCG_APIC_SVR, TCG_APIC_SVR_ENABLE | 0xff, 0);
}

Test(tcg_lapic, power_on_state)
{
	struct tcg_lapic l;
	tcg_lapic_init(&l, 3);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_ID, 0), 3u << 24);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_LVR, 0), TCG_LAPIC_VERSION);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_SVR, 0), 0xff, "software-disabled");
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_DFR, 0), 0xffffffffu, "flat model");
	cr_assert(tcg_lapic_read(&l, TCG_APIC_LVT0, 0) & TCG_APIC_LVT_MASKED, "an AP's LINT0 masked");
	cr_assert_eq(l.apic_base, 0xfee00800, "enabled, not the BSP");
	cr_assert(!tcg_lapic_accepts_pic(&l));
	/* The BSP: virtual wire, LINT0 ExtINT, LINT1 NMI. */
	tcg_lapic_init(&l, 0);
	cr_assert_eq(l.apic_base, 0xfee00900);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_LVT0, 0), TCG_DM_EXTINT << 8);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_LVT1, 0), TCG_DM_NMI << 8);
	cr_assert(tcg_lapic_accepts_pic(&l));
	/* Masking LINT0 cuts the 8259 off; disabling the APIC brings it back. */
	wr(&l, TCG_APIC_SVR, 0x1ff, 0);
	wr(&l, TCG_APIC_LVT0, TCG_APIC_LVT_MASKED | (TCG_DM_EXTINT << 8), 0);
	cr_assert(!tcg_lapic_accepts_pic(&l));
	cr_assert(tcg_lapic_set_base(&l, 0xfee00100));
	cr_assert(tcg_lapic_accepts_pic(&l));
	cr_assert_not(tcg_lapic_set_base(&l, 0xfed00900), "the page does not move");
	cr_assert_not(tcg_lapic_set_base(&l, 0xfee00d00), "not from disabled to x2APIC");
}

Test(tcg_lapic, priority_isr_and_eoi)
{
	struct tcg_lapic l;
	enabled(&l, 0);
	tcg_lapic_accept(&l, 0x31, false);
	tcg_lapic_accept(&l, 0x52, false);
	tcg_lapic_accept(&l, 0x55, true);
	cr_assert_eq(tcg_lapic_pending(&l), 0x55, "the highest first");
	cr_assert_eq(tcg_lapic_ack(&l), 0x55);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_PPR, 0), 0x50);
	cr_assert_eq(tcg_lapic_pending(&l), -1, "0x52 is in 0x55's class: blocked");
	cr_assert(tcg_lapic_read(&l, TCG_APIC_ISR + 0x20, 0) & (1u << (0x55 - 64)));
	wr(&l, TCG_APIC_EOI, 0, 0);
	cr_assert_eq(eoi, 0x55, "level-triggered: broadcast to the I/O APIC");
	cr_assert_eq(tcg_lapic_pending(&l), 0x52);
	/* TPR above a class holds it back. */
	wr(&l, TCG_APIC_TPR, 0x60, 0);
	cr_assert_eq(tcg_lapic_pending(&l), -1);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_PPR, 0), 0x60);
	wr(&l, TCG_APIC_TPR, 0x40, 0);
	cr_assert_eq(tcg_lapic_ack(&l), 0x52);
	/* Nested: 0x31 cannot preempt 0x52; after its EOI it comes. */
	cr_assert_eq(tcg_lapic_pending(&l), -1);
	wr(&l, TCG_APIC_EOI, 0, 0);
	cr_assert_eq(eoi, -1, "edge: no broadcast");
	wr(&l, TCG_APIC_TPR, 0, 0);
	cr_assert_eq(tcg_lapic_ack(&l), 0x31);
	cr_assert_eq(tcg_lapic_ack(&l), 0xff, "nothing left: the spurious vector");
}

Test(tcg_lapic, spurious_vector_and_software_disable)
{
	struct tcg_lapic l;
	tcg_lapic_init(&l, 0);
	tcg_lapic_accept(&l, 0x40, false);
	cr_assert_eq(tcg_lapic_pending(&l), -1, "software-disabled: dropped");
	wr(&l, TCG_APIC_LVTT, 0x20, 0);
	cr_assert(tcg_lapic_read(&l, TCG_APIC_LVTT, 0) & TCG_APIC_LVT_MASKED,
		  "LVTs stay masked while disabled");
	wr(&l, TCG_APIC_SVR, TCG_APIC_SVR_ENABLE | 0xef, 0);
	cr_assert_eq(tcg_lapic_ack(&l), 0xef, "the spurious vector the guest chose");
	tcg_lapic_accept(&l, 0x40, false);
	cr_assert_eq(tcg_lapic_pending(&l), 0x40);
	wr(&l, TCG_APIC_LVTT, 0x20, 0);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_LVTT, 0), 0x20);
	wr(&l, TCG_APIC_SVR, 0xef, 0);
	cr_assert(tcg_lapic_read(&l, TCG_APIC_LVTT, 0) & TCG_APIC_LVT_MASKED, "disable masks all");
}

Test(tcg_lapic, illegal_vectors_set_esr_and_error_lvt)
{
	struct tcg_lapic l;
	enabled(&l, 0);
	wr(&l, TCG_APIC_LVT_ERR, 0xfe, 0);
	tcg_lapic_accept(&l, 3, false);
	wr(&l, TCG_APIC_ESR, 0, 0);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_ESR, 0), TCG_APIC_ESR_RECV_ILLEGAL);
	cr_assert_eq(tcg_lapic_pending(&l), 0xfe, "the error LVT's vector");
	cr_assert_not(wr(&l, TCG_APIC_ICR, 5, 0), "a fixed IPI with vector 5 is not sent");
	wr(&l, TCG_APIC_ESR, 0, 0);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_ESR, 0), TCG_APIC_ESR_SEND_ILLEGAL);
}

Test(tcg_lapic, timer_one_shot)
{
	struct tcg_lapic l;
	enabled(&l, 0);
	wr(&l, TCG_APIC_TDCR, 0x3, 0); /* divide by 16 */
	wr(&l, TCG_APIC_LVTT, 0x40, 0);
	wr(&l, TCG_APIC_TMICT, 1000, 100);
	cr_assert_eq(tcg_lapic_timer_next(&l), 100 + 16000);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_TMCCT, 100 + 1600), 900);
	tcg_lapic_timer_fire(&l, 100 + 15999);
	cr_assert_eq(tcg_lapic_pending(&l), -1, "not yet");
	tcg_lapic_timer_fire(&l, 100 + 16000);
	cr_assert_eq(tcg_lapic_pending(&l), 0x40);
	cr_assert_eq(tcg_lapic_timer_next(&l), -1, "once");
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_TMCCT, 100 + 20000), 0);
	/* Masked: counts, raises nothing. */
	tcg_lapic_ack(&l);
	wr(&l, TCG_APIC_EOI, 0, 0);
	wr(&l, TCG_APIC_LVTT, 0x40 | TCG_APIC_LVT_MASKED, 0);
	wr(&l, TCG_APIC_TMICT, 10, 0);
	tcg_lapic_timer_fire(&l, 1000);
	cr_assert_eq(tcg_lapic_pending(&l), -1, "masked: %d", tcg_lapic_pending(&l));
	/* TMICT 0 stops it. */
	wr(&l, TCG_APIC_LVTT, 0x40, 0);
	wr(&l, TCG_APIC_TMICT, 10, 0);
	wr(&l, TCG_APIC_TMICT, 0, 5);
	cr_assert_eq(tcg_lapic_timer_next(&l), -1);
}

Test(tcg_lapic, timer_periodic_and_its_floor)
{
	struct tcg_lapic l;
	enabled(&l, 0);
	wr(&l, TCG_APIC_TDCR, 0xb, 0); /* divide by 1 */
	wr(&l, TCG_APIC_LVTT, (1u << 17) | 0x41, 0);
	wr(&l, TCG_APIC_TMICT, 1000000, 0); /* 1 ms */
	int64_t t = tcg_lapic_timer_next(&l);
	cr_assert_eq(t, 1000000);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_TMCCT, 1250000), 750000, "reloaded");
	for (int i = 0; i < 3; i++) {
		tcg_lapic_timer_fire(&l, t);
		cr_assert_eq(tcg_lapic_ack(&l), 0x41);
		wr(&l, TCG_APIC_EOI, 0, 0);
		cr_assert_eq(tcg_lapic_timer_next(&l), t + 1000000);
		t += 1000000;
	}
	/* Late by 5.5 periods: one interrupt, the next edge still ahead. */
	tcg_lapic_timer_fire(&l, t + 5500000);
	cr_assert_eq(tcg_lapic_timer_next(&l), t + 6000000);
	/* A period below 200 us is stretched to it. */
	wr(&l, TCG_APIC_TMICT, 100, 0);
	tcg_lapic_timer_fire(&l, 100);
	cr_assert_eq(tcg_lapic_timer_next(&l), 100 + TCG_LAPIC_MIN_PERIOD_NS);
	/* A mode change stops the timer. */
	wr(&l, TCG_APIC_LVTT, 0x41, 0);
	cr_assert_eq(tcg_lapic_timer_next(&l), -1);
}

Test(tcg_lapic, icr_messages_and_destinations)
{
	struct tcg_lapic a, b;
	enabled(&a, 0);
	enabled(&b, 1);
	wr(&a, TCG_APIC_ICR2, 1u << 24, 0);
	cr_assert(wr(&a, TCG_APIC_ICR, 0x4031, 0));
	cr_assert_eq(msg.vector, 0x31);
	cr_assert_eq(msg.mode, TCG_DM_FIXED);
	cr_assert(!tcg_lapic_match(&a, &msg) && tcg_lapic_match(&b, &msg), "physical id 1");
	tcg_lapic_deliver(&b, &msg);
	cr_assert_eq(tcg_lapic_pending(&b), 0x31);
	cr_assert_eq(tcg_lapic_read(&a, TCG_APIC_ICR, 0) & (1u << 12), 0, "delivery status idle");
	/* Shorthands. */
	wr(&a, TCG_APIC_ICR, (3u << 18) | 0x4500, 0); /* INIT all but self */
	cr_assert(!tcg_lapic_match(&a, &msg) && tcg_lapic_match(&b, &msg));
	wr(&a, TCG_APIC_ICR, (1u << 18) | 0x32, 0);
	cr_assert(tcg_lapic_match(&a, &msg) && !tcg_lapic_match(&b, &msg), "self");
	wr(&a, TCG_APIC_ICR, (2u << 18) | 0x32, 0);
	cr_assert(tcg_lapic_match(&a, &msg) && tcg_lapic_match(&b, &msg), "all");
	/* Logical, flat: LDR bits. */
	wr(&a, TCG_APIC_LDR, 0x01000000, 0);
	wr(&b, TCG_APIC_LDR, 0x02000000, 0);
	wr(&a, TCG_APIC_ICR2, 0x03000000, 0);
	wr(&a, TCG_APIC_ICR, (1u << 11) | 0x33, 0);
	cr_assert(msg.logical && tcg_lapic_match(&a, &msg) && tcg_lapic_match(&b, &msg));
	wr(&a, TCG_APIC_ICR2, 0x02000000, 0);
	wr(&a, TCG_APIC_ICR, (1u << 11) | 0x33, 0);
	cr_assert(!tcg_lapic_match(&a, &msg) && tcg_lapic_match(&b, &msg));
	/* Cluster model: cluster 1 member 2. */
	wr(&b, TCG_APIC_DFR, 0x0fffffff, 0);
	wr(&b, TCG_APIC_LDR, 0x12000000, 0);
	wr(&a, TCG_APIC_ICR2, 0x12000000, 0);
	wr(&a, TCG_APIC_ICR, (1u << 11) | 0x33, 0);
	cr_assert(tcg_lapic_match(&b, &msg));
	wr(&a, TCG_APIC_ICR2, 0x22000000, 0);
	wr(&a, TCG_APIC_ICR, (1u << 11) | 0x33, 0);
	cr_assert(!tcg_lapic_match(&b, &msg), "another cluster");
	/* Broadcast 0xff, physical. */
	wr(&a, TCG_APIC_ICR2, 0xff000000, 0);
	wr(&a, TCG_APIC_ICR, 0x34, 0);
	cr_assert(tcg_lapic_match(&a, &msg) && tcg_lapic_match(&b, &msg));
}

Test(tcg_lapic, init_and_startup)
{
	struct tcg_lapic ap;
	tcg_lapic_init(&ap, 1);
	struct tcg_apic_msg m = { .mode = TCG_DM_STARTUP, .vector = 0x10 };
	tcg_lapic_deliver(&ap, &m);
	cr_assert_eq(ap.sipi_vector, -1, "a SIPI outside wait-for-SIPI is ignored");
	m = (struct tcg_apic_msg){ .mode = TCG_DM_INIT, .level_trig = true, .assert = false };
	tcg_lapic_deliver(&ap, &m);
	cr_assert_not(ap.init_pending, "INIT de-assert does nothing");
	m.assert = true;
	tcg_lapic_deliver(&ap, &m);
	cr_assert(ap.init_pending);
	ap.wait_sipi = true; /* the backend acts on the INIT */
	m = (struct tcg_apic_msg){ .mode = TCG_DM_STARTUP, .vector = 0x10 };
	tcg_lapic_deliver(&ap, &m);
	cr_assert_eq(ap.sipi_vector, 0x10);
	m = (struct tcg_apic_msg){ .mode = TCG_DM_NMI };
	tcg_lapic_deliver(&ap, &m);
	cr_assert(ap.nmi_pending);
}

Test(tcg_lapic, save_and_load)
{
	struct tcg_lapic l, n;
	uint8_t page[TCG_LAPIC_STATE_SIZE];
	enabled(&l, 0);
	wr(&l, TCG_APIC_TDCR, 0xb, 0);
	wr(&l, TCG_APIC_LVTT, (1u << 17) | 0x41, 0);
	wr(&l, TCG_APIC_TMICT, 1000000, 0);
	tcg_lapic_accept(&l, 0x61, true);
	tcg_lapic_ack(&l);
	tcg_lapic_accept(&l, 0x50, false);
	tcg_lapic_save(&l, page, 300000);
	tcg_lapic_init(&n, 0);
	cr_assert_eq(tcg_lapic_load(&n, page, l.apic_base, 5000000), 0);
	cr_assert_eq(tcg_lapic_read(&n, TCG_APIC_TMCCT, 5000000), 700000, "counts on from the save");
	cr_assert_eq(tcg_lapic_timer_next(&n), 5700000);
	cr_assert_eq(tcg_lapic_read(&n, TCG_APIC_PPR, 0), 0x60);
	wr(&n, TCG_APIC_EOI, 0, 0);
	cr_assert_eq(eoi, 0x61);
	cr_assert_eq(tcg_lapic_ack(&n), 0x50);
	/* Refused, n untouched. */
	struct tcg_lapic before = n;
	page[0x395] = 1;
	cr_assert_eq(tcg_lapic_load(&n, page, l.apic_base, 0), -EINVAL, "padding");
	page[0x395] = 0;
	cr_assert_eq(tcg_lapic_load(&n, page, 0xfed00900, 0), -EINVAL, "moved");
	page[0x390] = 0xff;
	page[0x393] = 0xff;
	cr_assert_eq(tcg_lapic_load(&n, page, l.apic_base, 0), -EINVAL, "count above initial");
	cr_assert_eq(memcmp(&before, &n, sizeof(n)), 0);
}

/* IA32_APIC_BASE transitions (SDM 10.12.5, Figure 10-27). */
Test(tcg_lapic, apic_base_modes_and_transitions)
{
	struct tcg_lapic l;
	enabled(&l, 0x13);
	cr_assert_not(tcg_lapic_x2apic(&l));
	cr_assert_not(tcg_lapic_set_base(&l, 0xfee00400), "x2APIC without enable: invalid");
	cr_assert_not(tcg_lapic_set_base(&l, 0xfee00c01), "reserved bit 0");
	cr_assert_not(tcg_lapic_set_base(&l, 0xfee00e00), "reserved bit 9");
	cr_assert_not(tcg_lapic_set_base(&l, 0x1fee00c00ULL), "the page does not move");
	cr_assert_not(tcg_lapic_set_base(&l, 0xfee00d00), "the BSP flag is not ours to set");
	cr_assert(tcg_lapic_set_base(&l, 0xfee00c00), "xAPIC to x2APIC");
	cr_assert(tcg_lapic_x2apic(&l));
	cr_assert_eq(l.regs[TCG_APIC_ID >> 4], 0x13, "the x2APIC ID, unshifted (KVM's layout)");
	cr_assert_eq(l.regs[TCG_APIC_LDR >> 4], (1u << 16) | (1u << 3), "cluster 1, bit 3");
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_SVR, 0) & TCG_APIC_SVR_ENABLE, TCG_APIC_SVR_ENABLE,
		     "entering x2APIC keeps the registers");
	cr_assert(tcg_lapic_set_base(&l, 0xfee00c00), "x2APIC to x2APIC");
	cr_assert_not(tcg_lapic_set_base(&l, 0xfee00800), "x2APIC to xAPIC: #GP");
	cr_assert(tcg_lapic_x2apic(&l));
	cr_assert(tcg_lapic_set_base(&l, 0xfee00000), "x2APIC to disabled");
	cr_assert_not(tcg_lapic_x2apic(&l));
	cr_assert_eq(l.regs[TCG_APIC_ID >> 4], 0x13u << 24, "reset: the xAPIC ID again");
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_SVR, 0), 0xff, "reset");
	cr_assert_not(tcg_lapic_set_base(&l, 0xfee00c00), "disabled to x2APIC: #GP");
	cr_assert(tcg_lapic_set_base(&l, 0xfee00800), "disabled to xAPIC");
	cr_assert(tcg_lapic_base_ok(0xfee00d00));
	cr_assert_not(tcg_lapic_base_ok(0xfee00500));
}

static void x2apic_on(struct tcg_lapic *l, unsigned index)
{
	enabled(l, index);
	cr_assert(tcg_lapic_set_base(l, l->apic_base | TCG_APIC_BASE_X2APIC));
}

static int wrmsr(struct tcg_lapic *l, uint32_t msr, uint64_t val)
{
	return tcg_lapic_wrmsr(l, msr, val, 0, &msg, &eoi);
}

/* The x2APIC MSRs (SDM 10.12.1.2, Table 10-6). */
Test(tcg_lapic, x2apic_msrs)
{
	struct tcg_lapic l;
	uint64_t v = 0;
	enabled(&l, 0x21);
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x802, 0, &v), -1, "xAPIC mode: the MSRs #GP");
	cr_assert_eq(wrmsr(&l, 0x808, 0), -1);
	x2apic_on(&l, 0x21);
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x802, 0, &v), 0);
	cr_assert_eq(v, 0x21, "ID: the full x2APIC ID");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x803, 0, &v), 0);
	cr_assert_eq(v, TCG_LAPIC_VERSION);
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x80d, 0, &v), 0);
	cr_assert_eq(v, (2u << 16) | (1u << 1), "LDR: cluster 2, bit 1");
	cr_assert_eq(wrmsr(&l, 0x80d, 0), -1, "LDR is read-only");
	cr_assert_eq(wrmsr(&l, 0x802, 5), -1, "ID is read-only");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x80e, 0, &v), -1, "no DFR");
	cr_assert_eq(wrmsr(&l, 0x80e, 0), -1, "no DFR");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x809, 0, &v), -1, "no APR");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x831, 0, &v), -1, "no ICR2");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x804, 0, &v), -1, "reserved");
	cr_assert_eq(wrmsr(&l, 0x804, 0), -1, "reserved");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x80b, 0, &v), -1, "EOI is write-only");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x83f, 0, &v), -1, "SELF_IPI is write-only");
	cr_assert_eq(wrmsr(&l, 0x808, 0x100), -1, "TPR: 8 bits");
	cr_assert_eq(wrmsr(&l, 0x808, 1ULL << 32), -1, "32-bit registers take 32 bits");
	cr_assert_eq(wrmsr(&l, 0x808, 0x20), 0);
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x808, 0, &v), 0);
	cr_assert_eq(v, 0x20);
	cr_assert_eq(wrmsr(&l, 0x808, 0), 0);
	/* SELF_IPI and EOI. */
	cr_assert_eq(wrmsr(&l, 0x83f, 0x1ff), -1, "SELF_IPI: 8 bits");
	cr_assert_eq(wrmsr(&l, 0x83f, 0x61), 0);
	cr_assert_eq(tcg_lapic_pending(&l), 0x61);
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x800 + ((TCG_APIC_IRR >> 4) + 3), 0, &v), 0);
	cr_assert_eq(v, 1u << 1, "IRR bit 0x61");
	cr_assert_eq(tcg_lapic_ack(&l), 0x61);
	cr_assert_eq(wrmsr(&l, 0x80b, 1), -1, "EOI: only 0");
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x813, 0, &v), 0);
	cr_assert_eq(v, 1u << 1, "still in service after the refused EOI");
	cr_assert_eq(wrmsr(&l, 0x80b, 0), 0);
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x813, 0, &v), 0);
	cr_assert_eq(v, 0, "EOI'd");
	cr_assert_eq(wrmsr(&l, 0x828, 1), -1, "ESR: writes of 0 only");
	/* ICR: one 64-bit MSR, 32-bit destination. */
	cr_assert_eq(wrmsr(&l, 0x830, (0x12345ULL << 32) | 0x4041), 1);
	cr_assert(msg.x2apic && msg.dest == 0x12345 && msg.vector == 0x41 && msg.assert);
	cr_assert_eq(msg.mode, TCG_DM_FIXED);
	cr_assert_eq(tcg_lapic_rdmsr(&l, 0x830, 0, &v), 0);
	cr_assert_eq(v, (0x12345ULL << 32) | 0x4041);
	cr_assert_eq(wrmsr(&l, 0x830, 0x400), 1, "an NMI IPI");
	cr_assert_eq(msg.mode, TCG_DM_NMI);
	/* The timer through its MSRs. */
	cr_assert_eq(wrmsr(&l, 0x83e, 0xb), 0);
	cr_assert_eq(wrmsr(&l, 0x832, 0x42), 0);
	cr_assert_eq(tcg_lapic_wrmsr(&l, 0x838, 1000, 50, &msg, &eoi), 0);
	cr_assert_eq(tcg_lapic_timer_next(&l), 1050);
}

Test(tcg_lapic, x2apic_destinations)
{
	struct tcg_lapic l;
	x2apic_on(&l, 0x21);
	struct tcg_apic_msg m = { .x2apic = true, .dest = 0x21 };
	cr_assert(tcg_lapic_match(&l, &m), "physical, full ID");
	m.dest = 0x121;
	cr_assert_not(tcg_lapic_match(&l, &m), "no truncation to 8 bits");
	m.dest = 0xffffffffu;
	cr_assert(tcg_lapic_match(&l, &m), "broadcast");
	m = (struct tcg_apic_msg){ .x2apic = true, .logical = true, .dest = (2u << 16) | 0x2 };
	cr_assert(tcg_lapic_match(&l, &m), "logical: cluster 2, bit 1");
	m.dest = (2u << 16) | 0x1;
	cr_assert_not(tcg_lapic_match(&l, &m));
	m.dest = (3u << 16) | 0x2;
	cr_assert_not(tcg_lapic_match(&l, &m), "another cluster");
	/* The I/O APIC's 8-bit messages. */
	m = (struct tcg_apic_msg){ .dest = 0x21 };
	cr_assert(tcg_lapic_match(&l, &m));
	m.dest = 0xff;
	cr_assert(tcg_lapic_match(&l, &m), "8-bit broadcast");
}

#define KHZ 1000000ul /* 1 GHz: a TSC count per ns */

Test(tcg_lapic, tsc_deadline_arm_fire_disarm)
{
	struct tcg_lapic l;
	enabled(&l, 0);
	/* Outside TSC-deadline mode a write is ignored and reads 0. */
	tcg_lapic_set_deadline(&l, 5000, 0, 0, KHZ);
	cr_assert_eq(tcg_lapic_deadline(&l), 0);
	cr_assert_eq(tcg_lapic_timer_next(&l), -1);
	wr(&l, TCG_APIC_LVTT, (2u << 17) | 0x50, 0);
	/* TSC 1000 at 100 ns; deadline 11000: 10000 counts = 10 us later. */
	tcg_lapic_set_deadline(&l, 11000, 100, 1000, KHZ);
	cr_assert_eq(tcg_lapic_deadline(&l), 11000);
	int64_t t = tcg_lapic_timer_next(&l);
	cr_assert(t >= 100 + 10000 && t <= 100 + 10000 + 10, "never early, hardly late: %ld", (long)t);
	wr(&l, TCG_APIC_TMICT, 5, 200);
	cr_assert_eq(tcg_lapic_read(&l, TCG_APIC_TMICT, 200), 0, "TMICT ignored in deadline mode");
	cr_assert_eq(tcg_lapic_timer_next(&l), t);
	tcg_lapic_timer_fire(&l, t - 1);
	cr_assert_eq(tcg_lapic_pending(&l), -1, "not yet");
	tcg_lapic_timer_fire(&l, t);
	cr_assert_eq(tcg_lapic_pending(&l), 0x50);
	cr_assert_eq(tcg_lapic_deadline(&l), 0, "fired: reads 0");
	cr_assert_eq(tcg_lapic_timer_next(&l), -1, "once");
	tcg_lapic_ack(&l);
	wr(&l, TCG_APIC_EOI, 0, 0);
	/* A deadline already passed fires at once. */
	tcg_lapic_set_deadline(&l, 10, 500, 1000, KHZ);
	cr_assert_eq(tcg_lapic_timer_next(&l), 500);
	/* 0 disarms. */
	tcg_lapic_set_deadline(&l, 0, 600, 2000, KHZ);
	cr_assert_eq(tcg_lapic_timer_next(&l), -1);
	cr_assert_eq(tcg_lapic_deadline(&l), 0);
	/* A mode switch disarms. */
	tcg_lapic_set_deadline(&l, 1000000, 600, 2000, KHZ);
	cr_assert_neq(tcg_lapic_timer_next(&l), -1);
	wr(&l, TCG_APIC_LVTT, 0x50, 700);
	cr_assert_eq(tcg_lapic_timer_next(&l), -1);
	wr(&l, TCG_APIC_LVTT, (2u << 17) | 0x50, 800);
	cr_assert_eq(tcg_lapic_deadline(&l), 0, "the old deadline is gone");
	cr_assert_eq(tcg_lapic_timer_next(&l), -1);
	/* Masked: the deadline passes, nothing is raised. */
	wr(&l, TCG_APIC_LVTT, (2u << 17) | 0x50 | TCG_APIC_LVT_MASKED, 800);
	tcg_lapic_set_deadline(&l, 3000, 900, 2000, KHZ);
	tcg_lapic_timer_fire(&l, tcg_lapic_timer_next(&l));
	cr_assert_eq(tcg_lapic_pending(&l), -1);
	/* A slower TSC: 2.5 GHz counts 2500 per us. */
	wr(&l, TCG_APIC_LVTT, (2u << 17) | 0x50, 1000);
	tcg_lapic_set_deadline(&l, 2500000, 0, 0, 2500000);
	t = tcg_lapic_timer_next(&l);
	cr_assert(t >= 1000000 && t < 1000000 + 1000, "1 ms: %ld", (long)t);
}

Test(tcg_lapic, nmi_delivery_modes)
{
	struct tcg_lapic l;
	enabled(&l, 1);
	struct tcg_apic_msg m = { .mode = TCG_DM_NMI, .vector = 0x33 };
	tcg_lapic_deliver(&l, &m);
	cr_assert(l.nmi_pending, "an NMI message");
	cr_assert_eq(tcg_lapic_pending(&l), -1, "NMIs bypass the IRR");
	l.nmi_pending = false;
	/* Software-disabled APICs still take NMIs (SDM 10.4.7.2). */
	wr(&l, TCG_APIC_SVR, 0xff, 0);
	tcg_lapic_deliver(&l, &m);
	cr_assert(l.nmi_pending);
}
