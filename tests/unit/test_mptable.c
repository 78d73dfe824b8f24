/* MP tables checked the way a guest reads them: find the floating pointer,
 * verify checksums, walk the entries by their declared type. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/boot/layout.h"
#include "runtime/boot/mptable.h"

struct mp_counts {
	unsigned cpu, bsp, bus, ioapic, intsrc, lint, total;
	uint8_t apic_ids[MPTABLE_MAX_CPUS];
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	uint8_t lint_type[2];
	unsigned irq_seen; /* bit per I/O APIC pin */
};

static uint8_t mp_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* Parses a table image that sits at guest address base. */
static void mp_parse(const uint8_t *img, size_t len, uint32_t base, struct mp_counts *c)
{
	struct mpf_intel f;
	struct mpc_table t;

	memset(c, 0, sizeof(*c));
	cr_assert_geq(len, sizeof(f) + sizeof(t));
	memcpy(&f, img, sizeof(f));
	cr_assert_arr_eq(f.signature, "_MP_", 4);
	cr_assert_eq(mp_sum(img, sizeof(f)), 0, "floating pointer checksum");
	cr_assert_eq(f.length, 1);
	cr_assert_eq(f.spec_rev, 4);
	cr_assert_eq(f.feature1, 0, "config table present, no default config");
	cr_assert_geq(f.physptr, base);
	size_t toff = f.physptr - base;
	cr_assert_leq(toff + sizeof(t), len);
	memcpy(&t, img + toff, sizeof(t));
	cr_assert_arr_eq(t.signature, "PCMP", 4);
	cr_assert_leq(toff + t.length, len);
	cr_assert_eq(mp_sum(img + toff, t.length), 0, "config table checksum");
	cr_assert_eq(t.lapic, LAYOUT_LAPIC);

	size_t off = toff + sizeof(t), end = toff + t.length;
	for (unsigned i = 0; i < t.count; i++) {
		cr_assert_lt(off, end, "entry %u past the table", i);
		uint8_t type = img[off];
		size_t sz = type == MP_PROCESSOR ? sizeof(struct mpc_cpu) : 8;
		cr_assert_leq(off + sz, end);
		if (type == MP_PROCESSOR) {
			struct mpc_cpu e;
			memcpy(&e, img + off, sizeof(e));
			cr_assert(e.flags & MP_CPU_ENABLED);
			cr_assert_lt(c->cpu, MPTABLE_MAX_CPUS);
			c->apic_ids[c->cpu++] = e.apic_id;
			c->bsp += !!(e.flags & MP_CPU_BSP);
			if (e.flags & MP_CPU_BSP)
				cr_assert_eq(e.apic_id, 0, "BSP is APIC 0");
		} else if (type == MP_BUS) {
			struct mpc_bus e;
			memcpy(&e, img + off, sizeof(e));
			cr_assert_arr_eq(e.bus_type, "ISA   ", 6);
			c->bus++;
		} else if (type == MP_IOAPIC) {
			struct mpc_ioapic e;
			memcpy(&e, img + off, sizeof(e));
			c->ioapic++;
			c->ioapic_id = e.id;
			c->ioapic_addr = e.address;
			cr_assert_eq(e.version, 0x11);
			cr_assert(e.flags & MP_IOAPIC_ENABLED);
		} else if (type == MP_INTSRC) {
			struct mpc_intsrc e;
			memcpy(&e, img + off, sizeof(e));
			cr_assert_eq(e.irq_type, MP_IRQ_INT);
			cr_assert_eq(e.dst_apic, c->ioapic_id, "routes to the I/O APIC");
			cr_assert_eq(e.src_irq, e.dst_pin);
			c->irq_seen |= 1u << e.dst_pin;
			c->intsrc++;
		} else if (type == MP_LINTSRC) {
			struct mpc_intsrc e;
			memcpy(&e, img + off, sizeof(e));
			cr_assert_lt(e.dst_pin, 2);
			c->lint_type[e.dst_pin] = e.irq_type;
			c->lint++;
		} else {
			cr_assert_fail("unknown entry type %u", type);
		}
		off += sz;
		c->total++;
	}
	cr_assert_eq(off, end, "count and length agree");
}

static void mp_check(unsigned n)
{
	size_t size = mptable_size(n);
	uint8_t *buf = malloc(size);
	struct mp_counts c;

	cr_assert_eq(mptable_build(buf, size, (uint32_t)LAYOUT_EBDA, n), (long)size);
	mp_parse(buf, size, (uint32_t)LAYOUT_EBDA, &c);
	cr_assert_eq(c.cpu, n);
	cr_assert_eq(c.bsp, 1);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(c.apic_ids[i], i);
	cr_assert_eq(c.bus, 1);
	cr_assert_eq(c.ioapic, 1);
	cr_assert_eq(c.ioapic_id, n, "I/O APIC id follows the CPUs");
	cr_assert_eq(c.ioapic_addr, LAYOUT_IOAPIC);
	cr_assert_eq(c.intsrc, 24);
	cr_assert_eq(c.irq_seen, 0xffffff, "ISA IRQs 0..15 and virtio up to 23");
	cr_assert_eq(c.lint, 2);
	cr_assert_eq(c.lint_type[0], MP_IRQ_EXTINT);
	cr_assert_eq(c.lint_type[1], MP_IRQ_NMI);
	cr_assert_eq(c.total, n + 1 + 1 + 24 + 2);
	cr_assert_leq(LAYOUT_EBDA + size, 0xA0000, "fits below the VGA hole");
	free(buf);
}

Test(mptable, one_cpu) { mp_check(1); }
Test(mptable, thirty_two_cpus) { mp_check(32); }

Test(mptable, bad_counts_and_short_buffer)
{
	uint8_t buf[2048];
	cr_assert_eq(mptable_build(buf, sizeof(buf), 0, 0), -EINVAL);
	cr_assert_eq(mptable_build(buf, sizeof(buf), 0, MPTABLE_MAX_CPUS + 1), -EINVAL);
	cr_assert_eq(mptable_build(buf, mptable_size(4) - 1, 0, 4), -ENOSPC);
}

Test(mptable, written_to_guest_and_checksum_detects_damage)
{
	static uint8_t ram[0xA0000];
	struct guest_mem m = { .nr_regions = 1, .total = sizeof(ram) };
	struct errbuf err = { "" };
	size_t size = mptable_size(8);

	m.regions[0] = (struct gm_region){ .gpa = 0, .size = sizeof(ram), .host = ram };
	cr_assert_eq(mptable_write(&m, 8, &err), 0, "%s", err.msg);
	struct mp_counts c;
	mp_parse(ram + LAYOUT_EBDA, size, (uint32_t)LAYOUT_EBDA, &c);
	cr_assert_eq(c.cpu, 8);
	/* A flipped byte must break the table checksum. */
	ram[LAYOUT_EBDA + 16 + 50] ^= 0x40;
	cr_assert_neq(mp_sum(ram + LAYOUT_EBDA + 16, size - 16), 0);
	cr_assert_eq(mptable_write(&m, 33, &err), -EINVAL);
	cr_assert(strstr(err.msg, "33"), "%s", err.msg);
}
