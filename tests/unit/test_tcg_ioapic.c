/* runtime/backend/tcg/ioapic.c: redirection, edge and level lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/ioapic.h"

static struct tcg_apic_msg sent[16];
static unsigned nr_sent;

static void send(void *ctx, const struct tcg_apic_msg *msg)
{
	(void)ctx;
	if (nr_sent < 16)
		sent[nr_sent] = *msg;
	nr_sent++;
}

static void redir(struct tcg_ioapic *io, unsigned pin, uint64_t e)
{
	tcg_ioapic_write(io, 0, 0x10 + 2 * pin + 1);
	tcg_ioapic_write(io, 0x10, (uint32_t)(e >> 32));
	tcg_ioapic_write(io, 0, 0x10 + 2 * pin);
	tcg_ioapic_write(io, 0x10, (uint32_t)e);
}

static uint64_t redir_read(struct tcg_ioapic *io, unsigned pin)
{
	tcg_ioapic_write(io, 0, 0x10 + 2 * pin);
	uint64_t lo = tcg_ioapic_read(io, 0x10);
	tcg_ioapic_write(io, 0, 0x10 + 2 * pin + 1);
	return lo | (uint64_t)tcg_ioapic_read(io, 0x10) << 32;
}

static void fresh(struct tcg_ioapic *io)
{
	nr_sent = 0;
	tcg_ioapic_init(io, 1, send, NULL);
}

Test(tcg_ioapic, registers)
{
	struct tcg_ioapic io;
	fresh(&io);
	tcg_ioapic_write(&io, 0, 0);
	cr_assert_eq(tcg_ioapic_read(&io, 0x10), 1u << 24, "id 1");
	tcg_ioapic_write(&io, 0, 1);
	cr_assert_eq(tcg_ioapic_read(&io, 0x10), 0x00170011u, "24 pins, version 0x11");
	cr_assert_eq(redir_read(&io, 23), TCG_IOAPIC_MASKED, "power-on: masked");
	redir(&io, 5, 0xff00000000000000ULL | TCG_IOAPIC_REMOTE_IRR | (1u << 12) | 0x8931);
	cr_assert_eq(redir_read(&io, 5), 0xff00000000008931ULL, "status and remote IRR read-only");
	tcg_ioapic_write(&io, 0, 0x40); /* past the table */
	cr_assert_eq(tcg_ioapic_read(&io, 0x10), 0);
	tcg_ioapic_write(&io, 0x10, 0xffffffff);
	tcg_ioapic_set_irq(&io, 99, true); /* no such pin: ignored */
	cr_assert_eq(nr_sent, 0);
}

Test(tcg_ioapic, edge_redirection_and_masking)
{
	struct tcg_ioapic io;
	fresh(&io);
	tcg_ioapic_set_irq(&io, 4, true);
	tcg_ioapic_set_irq(&io, 4, false);
	cr_assert_eq(nr_sent, 0, "masked");
	redir(&io, 4, (2ULL << 56) | (1u << 11) | 0x34);
	cr_assert_eq(nr_sent, 1, "the edge that came while masked is delivered on unmask");
	cr_assert_eq(sent[0].vector, 0x34);
	cr_assert(sent[0].logical);
	cr_assert_eq(sent[0].dest, 2);
	cr_assert_not(sent[0].level_trig);
	tcg_ioapic_set_irq(&io, 4, true);
	tcg_ioapic_set_irq(&io, 4, true);
	cr_assert_eq(nr_sent, 2, "one per rising edge");
	tcg_ioapic_set_irq(&io, 4, false);
	tcg_ioapic_set_irq(&io, 4, true);
	cr_assert_eq(nr_sent, 3);
	tcg_ioapic_set_irq(&io, 4, false);
	redir(&io, 4, TCG_IOAPIC_MASKED | 0x34);
	redir(&io, 4, 0x34);
	cr_assert_eq(nr_sent, 3, "nothing pending after a delivered edge");
}

Test(tcg_ioapic, level_remote_irr_and_eoi)
{
	struct tcg_ioapic io;
	fresh(&io);
	redir(&io, 9, TCG_IOAPIC_LEVEL | 0x49);
	tcg_ioapic_set_irq(&io, 9, true);
	cr_assert_eq(nr_sent, 1);
	cr_assert(sent[0].level_trig);
	cr_assert(redir_read(&io, 9) & TCG_IOAPIC_REMOTE_IRR);
	tcg_ioapic_set_irq(&io, 9, true);
	cr_assert_eq(nr_sent, 1, "remote IRR holds it until the EOI");
	tcg_ioapic_eoi(&io, 0x48);
	cr_assert_eq(nr_sent, 1, "another vector's EOI");
	tcg_ioapic_eoi(&io, 0x49);
	cr_assert_eq(nr_sent, 2, "still high at the EOI: delivered again");
	tcg_ioapic_set_irq(&io, 9, false);
	tcg_ioapic_eoi(&io, 0x49);
	cr_assert_eq(nr_sent, 2, "low at the EOI: done");
	cr_assert_eq(redir_read(&io, 9) & TCG_IOAPIC_REMOTE_IRR, 0);
	/* Masked while high: delivered on unmask. */
	redir(&io, 9, TCG_IOAPIC_MASKED | TCG_IOAPIC_LEVEL | 0x49);
	tcg_ioapic_set_irq(&io, 9, true);
	cr_assert_eq(nr_sent, 2);
	redir(&io, 9, TCG_IOAPIC_LEVEL | 0x49);
	cr_assert_eq(nr_sent, 3);
	/* Dropped before the unmask: nothing. */
	tcg_ioapic_eoi(&io, 0x49);
	nr_sent = 0;
	redir(&io, 9, TCG_IOAPIC_MASKED | TCG_IOAPIC_LEVEL | 0x49);
	tcg_ioapic_set_irq(&io, 9, false);
	tcg_ioapic_set_irq(&io, 9, true);
	tcg_ioapic_set_irq(&io, 9, false);
	redir(&io, 9, TCG_IOAPIC_LEVEL | 0x49);
	cr_assert_eq(nr_sent, 0);
}

Test(tcg_ioapic, save_and_load)
{
	struct tcg_ioapic io, n;
	uint8_t b[TCG_IOAPIC_STATE_SIZE];
	fresh(&io);
	redir(&io, 9, TCG_IOAPIC_LEVEL | 0x49);
	tcg_ioapic_set_irq(&io, 9, true);
	tcg_ioapic_save(&io, b);
	fresh(&n);
	cr_assert_eq(tcg_ioapic_load(&n, b), 0);
	cr_assert(redir_read(&n, 9) & TCG_IOAPIC_REMOTE_IRR);
	tcg_ioapic_eoi(&n, 0x49);
	cr_assert_eq(nr_sent, 1, "the line still high: again after the EOI");
	struct tcg_ioapic before = n;
	b[16 + 8 * 3 + 3] = 1; /* a reserved bit of pin 3 */
	cr_assert_eq(tcg_ioapic_load(&n, b), -EINVAL);
	b[16 + 8 * 3 + 3] = 0;
	b[11] = 0xff; /* levels of pins past 23 */
	cr_assert_eq(tcg_ioapic_load(&n, b), -EINVAL);
	cr_assert_eq(memcmp(&before, &n, sizeof(n)), 0);
}
