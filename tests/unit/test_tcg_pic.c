/* runtime/backend/tcg/pic.c: the 8259A pair as Linux programs it
 * (arch/x86/kernel/i8259.c init_8259A). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/pic.h"

static struct tcg_pic pic;

/* ICW1-ICW4 for master (base 0x30) and slave (base 0x38), all masked. */
static void setup(void)
{
	tcg_pic_init(&pic);
	tcg_pic_write(&pic, 0x20, 0x11);
	tcg_pic_write(&pic, 0x21, 0x30);
	tcg_pic_write(&pic, 0x21, 0x04);
	tcg_pic_write(&pic, 0x21, 0x01);
	tcg_pic_write(&pic, 0xa0, 0x11);
	tcg_pic_write(&pic, 0xa1, 0x38);
	tcg_pic_write(&pic, 0xa1, 0x02);
	tcg_pic_write(&pic, 0xa1, 0x01);
	tcg_pic_write(&pic, 0x21, 0xfb); /* only the cascade line open */
	tcg_pic_write(&pic, 0xa1, 0xff);
}

TestSuite(tcg_pic, .init = setup);

Test(tcg_pic, masked_until_unmasked_then_edge_and_eoi)
{
	tcg_pic_set_irq(&pic, 4, true);
	cr_assert_not(tcg_pic_output(&pic), "masked");
	tcg_pic_write(&pic, 0x21, 0xeb);
	cr_assert(tcg_pic_output(&pic));
	cr_assert_eq(tcg_pic_ack(&pic), 0x34);
	cr_assert_not(tcg_pic_output(&pic), "in service, edge consumed");
	tcg_pic_write(&pic, 0x20, 0x0b); /* OCW3: read ISR */
	cr_assert_eq(tcg_pic_read(&pic, 0x20), 0x10);
	tcg_pic_write(&pic, 0x20, 0x64); /* specific EOI, line 4 */
	cr_assert_eq(tcg_pic_read(&pic, 0x20), 0);
	cr_assert_not(tcg_pic_output(&pic), "line still high: no new edge");
	tcg_pic_set_irq(&pic, 4, false);
	tcg_pic_set_irq(&pic, 4, true);
	cr_assert(tcg_pic_output(&pic));
	cr_assert_eq(tcg_pic_read(&pic, 0x21), 0xeb);
}

Test(tcg_pic, priority_and_nesting)
{
	tcg_pic_write(&pic, 0x21, 0x00);
	tcg_pic_set_irq(&pic, 3, true);
	tcg_pic_set_irq(&pic, 1, true);
	cr_assert_eq(tcg_pic_ack(&pic), 0x31, "IRQ 1 outranks IRQ 3");
	cr_assert_not(tcg_pic_output(&pic), "IRQ 3 waits behind IRQ 1 in service");
	tcg_pic_set_irq(&pic, 0, true);
	cr_assert(tcg_pic_output(&pic), "IRQ 0 nests over IRQ 1");
	cr_assert_eq(tcg_pic_ack(&pic), 0x30);
	tcg_pic_write(&pic, 0x20, 0x20); /* non-specific EOI: IRQ 0 */
	tcg_pic_write(&pic, 0x20, 0x20); /* IRQ 1 */
	cr_assert_eq(tcg_pic_ack(&pic), 0x33);
}

Test(tcg_pic, slave_cascade_and_spurious)
{
	tcg_pic_write(&pic, 0xa1, 0xfe); /* IRQ 8 open */
	tcg_pic_set_irq(&pic, 8, true);
	cr_assert(tcg_pic_output(&pic));
	cr_assert_eq(tcg_pic_ack(&pic), 0x38);
	tcg_pic_set_irq(&pic, 8, false);
	cr_assert_eq(tcg_pic_ack(&pic), 0x37, "nothing pending: spurious IRQ 7");
}

Test(tcg_pic, level_triggered_lines_follow_the_level)
{
	tcg_pic_write(&pic, 0x21, 0x00);
	tcg_pic_write(&pic, 0x4d0, 0x20); /* IRQ 5 level */
	cr_assert_eq(tcg_pic_read(&pic, 0x4d0), 0x20);
	tcg_pic_write(&pic, 0x4d0, 0x07);
	cr_assert_eq(tcg_pic_read(&pic, 0x4d0), 0x00, "IRQ 0-2 cannot be level");
	tcg_pic_write(&pic, 0x4d0, 0x20);
	tcg_pic_set_irq(&pic, 5, true);
	cr_assert_eq(tcg_pic_ack(&pic), 0x35);
	tcg_pic_write(&pic, 0x20, 0x20);
	cr_assert(tcg_pic_output(&pic), "still asserted: requested again");
	tcg_pic_set_irq(&pic, 5, false);
	cr_assert_not(tcg_pic_output(&pic));
}

Test(tcg_pic, auto_eoi_and_poll)
{
	tcg_pic_write(&pic, 0x20, 0x11);
	tcg_pic_write(&pic, 0x21, 0x30);
	tcg_pic_write(&pic, 0x21, 0x04);
	tcg_pic_write(&pic, 0x21, 0x03); /* ICW4: auto-EOI */
	tcg_pic_write(&pic, 0x21, 0x00);
	tcg_pic_set_irq(&pic, 6, true);
	cr_assert_eq(tcg_pic_ack(&pic), 0x36);
	tcg_pic_write(&pic, 0x20, 0x0b);
	cr_assert_eq(tcg_pic_read(&pic, 0x20), 0, "nothing left in service");
	tcg_pic_set_irq(&pic, 6, false);
	tcg_pic_set_irq(&pic, 6, true);
	tcg_pic_write(&pic, 0x20, 0x0c); /* poll */
	cr_assert_eq(tcg_pic_read(&pic, 0x20), 0x86);
}

/* A pair mid-flight: a slave line in service, a master request pending,
 * rotation, special mask mode, a level line, an unfinished ICW sequence. */
Test(tcg_pic, save_load_round_trip_behaves_the_same)
{
	struct tcg_pic copy;
	uint8_t a[TCG_PIC_STATE_SIZE], b[TCG_PIC_STATE_SIZE];
	tcg_pic_write(&pic, 0x21, 0x00);
	tcg_pic_write(&pic, 0xa1, 0x00);
	tcg_pic_write(&pic, 0x4d1, 0x04); /* IRQ 10 level-triggered */
	tcg_pic_set_irq(&pic, 10, true);
	cr_assert_eq(tcg_pic_ack(&pic), 0x3a);
	tcg_pic_set_irq(&pic, 3, true);
	tcg_pic_write(&pic, 0x20, 0xc4); /* lowest priority: IRQ 4 */
	tcg_pic_write(&pic, 0xa0, 0x68); /* special mask mode on the slave */
	tcg_pic_save(&pic, a);
	cr_assert_eq(tcg_pic_load(&copy, a), 0);
	tcg_pic_save(&copy, b);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(tcg_pic_output(&copy), tcg_pic_output(&pic));
		cr_assert_eq(tcg_pic_ack(&copy), tcg_pic_ack(&pic));
		tcg_pic_write(&copy, 0x20, 0x20);
		tcg_pic_write(&pic, 0x20, 0x20);
	}
}

Test(tcg_pic, load_refuses_states_the_chips_cannot_be_in)
{
	struct {
		int at;
		uint8_t val;
	} bad[] = {
		{ 4, 0x01 },  /* ELCR: IRQ 0 is edge-only */
		{ 20, 0x01 }, /* ELCR: IRQ 8 is edge-only */
		{ 5, 0x31 },  /* vector base not a multiple of 8 */
		{ 6, 8 },     /* rotation past IRQ 7 */
		{ 7, 1 },     /* no ICW1 step */
		{ 7, 5 },
		{ 8, 0x80 },  /* unknown flag */
		{ 9, 1 },     /* reserved */
		{ 31, 1 },
		{ 3, 0x04 },  /* cascade line high with the slave quiet */
	};
	uint8_t good[TCG_PIC_STATE_SIZE], st[TCG_PIC_STATE_SIZE], after[TCG_PIC_STATE_SIZE];
	tcg_pic_save(&pic, good);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(st, good, sizeof(st));
		st[bad[i].at] = bad[i].val;
		cr_assert_eq(tcg_pic_load(&pic, st), -EINVAL, "case %zu", i);
		tcg_pic_save(&pic, after);
		cr_assert_eq(memcmp(after, good, sizeof(good)), 0, "unchanged");
	}
	/* ICW3 pending in single mode; ICW4 pending without ICW4 asked for. */
	memcpy(st, good, sizeof(st));
	st[7] = 3;
	st[8] = 0x02;
	cr_assert_eq(tcg_pic_load(&pic, st), -EINVAL);
	st[7] = 4;
	st[8] = 0x00;
	cr_assert_eq(tcg_pic_load(&pic, st), -EINVAL);
}
