/* MP tables (Intel MultiProcessor Specification 1.4, chapter 4). Linux
 * finds the floating pointer by scanning the last KiB of base memory
 * (arch/x86/kernel/mpparse.c), which is where LAYOUT_EBDA puts it. */
#include "runtime/boot/mptable.h"

#include <errno.h>
#include <string.h>

#include "runtime/boot/layout.h"

#define MP_SPEC_REV 4        /* version 1.4 */
#define MP_APIC_VERSION 0x14 /* integrated local APIC, as KVM reports */
#define MP_IOAPIC_VERSION 0x11
/* Family 6 signature with the FPU and APIC feature bits: the values a
 * BIOS would copy from CPUID 1 (MP spec table 4-5). */
#define MP_CPU_SIGNATURE 0x600
#define MP_CPU_FEATURES ((1u << 0) | (1u << 9))
#define MP_ALL_APICS 0xff
#define MP_ISA_BUS 0
/* Legacy area ends at 0xA0000 (VGA); the tables must fit before it. */
#define MP_AREA_END 0xA0000ULL

size_t mptable_size(unsigned nr_cpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       nr_cpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) + MPTABLE_IRQS * sizeof(struct mpc_intsrc) +
	       2 * sizeof(struct mpc_intsrc);
}

uint8_t mptable_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Appends one entry at *off; the caller sized buf with mptable_size. */
static void mp_put(uint8_t *buf, size_t *off, const void *e, size_t len, uint16_t *count)
{
	memcpy(buf + *off, e, len);
	*off += len;
	(*count)++;
}

long mptable_build(uint8_t *buf, size_t buflen, uint32_t base, unsigned nr_cpus)
{
	size_t size = mptable_size(nr_cpus);
	size_t off = sizeof(struct mpf_intel) + sizeof(struct mpc_table);
	uint16_t count = 0;
	uint8_t ioapic_id = (uint8_t)nr_cpus; /* after the CPUs' APIC ids */

	if (nr_cpus < 1 || nr_cpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	if (buflen < size)
		return -ENOSPC;
	memset(buf, 0, size);

	for (unsigned i = 0; i < nr_cpus; i++) {
		struct mpc_cpu c = {
			.type = MP_PROCESSOR, .apic_id = (uint8_t)i, .apic_ver = MP_APIC_VERSION,
			.flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.signature = MP_CPU_SIGNATURE, .features = MP_CPU_FEATURES,
		};
		mp_put(buf, &off, &c, sizeof(c), &count);
	}
	struct mpc_bus bus = { .type = MP_BUS, .bus_id = MP_ISA_BUS };
	memcpy(bus.bus_type, "ISA   ", 6); /* table 4-8: blank-padded, no NUL */
	mp_put(buf, &off, &bus, sizeof(bus), &count);

	struct mpc_ioapic io = { .type = MP_IOAPIC, .id = ioapic_id, .version = MP_IOAPIC_VERSION,
				 .flags = MP_IOAPIC_ENABLED, .address = (uint32_t)LAYOUT_IOAPIC };
	mp_put(buf, &off, &io, sizeof(io), &count);

	/* Every pin is identity-mapped: ISA IRQ n and virtio IRQs (from
	 * LAYOUT_FIRST_VIRTIO_IRQ up) arrive on I/O APIC pin n, which is how
	 * KVM's default GSI routing wires them. */
	for (unsigned irq = 0; irq < MPTABLE_IRQS; irq++) {
		struct mpc_intsrc is = { .type = MP_INTSRC, .irq_type = MP_IRQ_INT,
					 .src_bus = MP_ISA_BUS, .src_irq = (uint8_t)irq,
					 .dst_apic = ioapic_id, .dst_pin = (uint8_t)irq };
		mp_put(buf, &off, &is, sizeof(is), &count);
	}
	/* Virtual wire mode (MP spec 3.6.2.2): the 8259 output on LINT0 as
	 * ExtINT, NMI on LINT1, for every local APIC. */
	struct mpc_intsrc lint0 = { .type = MP_LINTSRC, .irq_type = MP_IRQ_EXTINT,
				    .src_bus = MP_ISA_BUS, .dst_apic = MP_ALL_APICS, .dst_pin = 0 };
	struct mpc_intsrc lint1 = { .type = MP_LINTSRC, .irq_type = MP_IRQ_NMI,
				    .src_bus = MP_ISA_BUS, .dst_apic = MP_ALL_APICS, .dst_pin = 1 };
	mp_put(buf, &off, &lint0, sizeof(lint0), &count);
	mp_put(buf, &off, &lint1, sizeof(lint1), &count);

	struct mpc_table t = {
		.length = (uint16_t)(off - sizeof(struct mpf_intel)), .spec_rev = MP_SPEC_REV,
		.count = count, .lapic = (uint32_t)LAYOUT_LAPIC,
	};
	memcpy(t.signature, "PCMP", 4);
	memcpy(t.oem, "EMBER   ", 8);
	memcpy(t.product, "EMBER VM    ", 12);
	uint8_t *tp = buf + sizeof(struct mpf_intel);
	memcpy(tp, &t, sizeof(t));
	tp[offsetof(struct mpc_table, checksum)] = mptable_checksum(tp, t.length);

	struct mpf_intel f = { .physptr = base + (uint32_t)sizeof(struct mpf_intel), .length = 1,
			       .spec_rev = MP_SPEC_REV };
	memcpy(f.signature, "_MP_", 4);
	f.checksum = mptable_checksum((const uint8_t *)&f, sizeof(f));
	memcpy(buf, &f, sizeof(f));
	return (long)off;
}

int mptable_write(struct guest_mem *mem, unsigned nr_cpus, struct errbuf *err)
{
	uint8_t buf[1024];
	long n;

	_Static_assert(LAYOUT_EBDA + sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
			       MPTABLE_MAX_CPUS * sizeof(struct mpc_cpu) + 2 * 8 +
			       (MPTABLE_IRQS + 2) * 8 <= MP_AREA_END,
		       "MP table for 32 CPUs must fit below 0xA0000");
	n = mptable_build(buf, sizeof(buf), (uint32_t)LAYOUT_EBDA, nr_cpus);
	if (n < 0)
		return err_set(err, (int)n, "MP table for %u vCPUs: %s (1..%u supported)", nr_cpus,
			       n == -EINVAL ? "bad vCPU count" : "too large", MPTABLE_MAX_CPUS);
	if (gm_write(mem, LAYOUT_EBDA, buf, (uint64_t)n))
		return err_set(err, -EFAULT, "no guest RAM for the MP table at 0x%llx",
			       (unsigned long long)LAYOUT_EBDA);
	return 0;
}
