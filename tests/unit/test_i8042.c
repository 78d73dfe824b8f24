/* The i8042, driven through the port bus the way Linux's i8042 and atkbd
 * drivers do. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "runtime/base/bus.h"
#include "tests/unit/fake_irq.h"
#include "runtime/devices/i8042.h"

#define DATA 0x60
#define CMD 0x64
#define STR_OBF 0x01
#define STR_AUX 0x20

static struct fake_irq kirq;
static struct bus kpio;
static struct i8042 *kbc;
static int resets;

static void i8042_fake_reset(void *ctx)
{
	cr_assert_eq(ctx, &resets);
	resets++;
}

static void i8042_setup(void)
{
	memset(&kirq, 0, sizeof(kirq));
	resets = 0;
	bus_init(&kpio, "pio");
	struct irq_line irq = { fake_irq_set, &kirq, 1 };
	cr_assert_eq(i8042_create(&kbc, &irq, i8042_fake_reset, &resets), 0);
	cr_assert_eq(i8042_register(kbc, &kpio), 0);
}

static void i8042_teardown(void)
{
	i8042_destroy(kbc);
	bus_destroy(&kpio);
}

static uint8_t kin(uint16_t port)
{
	uint8_t v = 0xee;
	cr_assert_eq(bus_read(&kpio, port, &v, 1), 0);
	return v;
}

static void kout(uint16_t port, uint8_t v)
{
	cr_assert_eq(bus_write(&kpio, port, &v, 1), 0);
}

/* i8042_command(): write the command, then poll OBF for each reply byte. */
static uint8_t i8042_reply(void)
{
	cr_assert(kin(CMD) & STR_OBF, "reply expected");
	return kin(DATA);
}

static void i8042_expect_empty(void)
{
	cr_assert_eq(kin(CMD) & STR_OBF, 0, "no more output expected");
}

TestSuite(i8042, .init = i8042_setup, .fini = i8042_teardown);

Test(i8042, ports_60_and_64_only)
{
	cr_assert_not_null(bus_find(&kpio, 0x60, 1));
	cr_assert_not_null(bus_find(&kpio, 0x64, 1));
	cr_assert_null(bus_find(&kpio, 0x61, 1), "0x61 is the PIT speaker gate");
	cr_assert_null(bus_find(&kpio, 0x62, 1));
	cr_assert_null(bus_find(&kpio, 0x63, 1));
	cr_assert_null(bus_find(&kpio, 0x65, 1));
}

Test(i8042, controller_check_and_self_test)
{
	uint8_t st = kin(CMD);
	cr_assert_neq(st, 0xff, "0xff means no controller to Linux");
	cr_assert_eq(st & 0x03, 0, "idle: no OBF, no IBF");
	cr_assert(st & 0x04, "SYS flag set after POST");
	kout(CMD, 0xaa);
	cr_assert(kin(CMD) & 0x08, "CMD/DATA: last write was a command");
	cr_assert_eq(i8042_reply(), 0x55);
	i8042_expect_empty();
	kout(CMD, 0xab);
	cr_assert_eq(i8042_reply(), 0x00);
	kout(CMD, 0xa9);
	cr_assert_eq(i8042_reply(), 0x00);
	i8042_expect_empty();
}

Test(i8042, command_byte_read_write)
{
	kout(CMD, 0x20);
	cr_assert_eq(i8042_reply(), 0x05, "KBDINT | SYS, no XLATE");
	kout(CMD, 0x60);
	kout(DATA, 0x74); /* Linux init: KBDDIS, AUXDIS, XLATE, SYS, no ints */
	cr_assert_eq(kin(CMD) & 0x08, 0);
	i8042_expect_empty();
	kout(CMD, 0x20);
	cr_assert_eq(i8042_reply(), 0x74);
	kout(CMD, 0xae);
	kout(CMD, 0xa8);
	kout(CMD, 0x20);
	cr_assert_eq(i8042_reply(), 0x44, "0xAE/0xA8 clear the disable bits");
	kout(CMD, 0xad);
	kout(CMD, 0xa7);
	kout(CMD, 0x20);
	cr_assert_eq(i8042_reply(), 0x74, "0xAD/0xA7 set them");
	cr_assert_eq(kirq.rises, 1, "only the first reply, sent while KBDINT was on");
}

Test(i8042, aux_loopback_sets_aux_bit)
{
	kout(CMD, 0xd3);
	kout(DATA, 0x5a);
	uint8_t st = kin(CMD);
	cr_assert_eq(st & (STR_OBF | STR_AUX), STR_OBF | STR_AUX);
	cr_assert_eq(kin(DATA), 0x5a);
	cr_assert_eq(kirq.rises, 0, "AUX bytes do not raise IRQ 1");
	/* The MUX probe expects a plain echo of 0xf0, 0x56, 0xa4: not a MUX. */
	const uint8_t mux[] = { 0xf0, 0x56, 0xa4 };
	for (unsigned i = 0; i < 3; i++) {
		kout(CMD, 0xd3);
		kout(DATA, mux[i]);
		cr_assert_eq(i8042_reply(), mux[i]);
	}
	kout(CMD, 0xd2);
	kout(DATA, 0x77);
	cr_assert_eq(kin(CMD) & (STR_OBF | STR_AUX), STR_OBF);
	cr_assert_eq(kin(DATA), 0x77);
}

Test(i8042, reset_on_fe)
{
	kout(CMD, 0xfe);
	cr_assert_eq(resets, 1);
	kout(CMD, 0xff);
	kout(CMD, 0xfd);
	cr_assert_eq(resets, 1, "only pulses of bit 0 reset");
	kout(CMD, 0xf0);
	cr_assert_eq(resets, 2);
	kout(CMD, 0xd1);
	kout(DATA, 0x03);
	cr_assert_eq(resets, 2);
	kout(CMD, 0xd1);
	kout(DATA, 0x02);
	cr_assert_eq(resets, 3, "output port bit 0 low resets");
	kout(DATA, 0xfe);
	cr_assert_eq(resets, 3, "0xFE on the data port is a keyboard resend");
}

Test(i8042, keyboard_commands_are_acked_with_irq)
{
	kout(DATA, 0xff);
	cr_assert(kirq.level);
	cr_assert_eq(kirq.gsi, 1);
	cr_assert_eq(kin(DATA), 0xfa);
	cr_assert(kirq.level, "next byte pending");
	cr_assert_eq(kirq.rises, 2, "each byte gets its own edge");
	cr_assert_eq(kin(DATA), 0xaa);
	cr_assert_not(kirq.level);

	kout(DATA, 0xf2);
	cr_assert_eq(kin(DATA), 0xfa);
	cr_assert_eq(kin(DATA), 0xab);
	cr_assert_eq(kin(DATA), 0x83);
	kout(DATA, 0xed);
	cr_assert_eq(kin(DATA), 0xfa);
	kout(DATA, 0x07);
	cr_assert_eq(kin(DATA), 0xfa, "LED parameter is acked too");
	kout(DATA, 0xf0);
	kout(DATA, 0x00);
	cr_assert_eq(kin(DATA), 0xfa);
	cr_assert_eq(kin(DATA), 0xfa);
	cr_assert_eq(kin(DATA), 0x02, "scan code set 2");
	kout(DATA, 0xf4);
	cr_assert_eq(kin(DATA), 0xfa);
	kout(DATA, 0xf5);
	cr_assert_eq(kin(DATA), 0xfa);
	i8042_expect_empty();
	cr_assert_eq(kin(DATA), 0xfa, "empty buffer reads stale");
	cr_assert_not(kirq.level);
}

Test(i8042, enabling_kbdint_raises_for_waiting_byte)
{
	kout(CMD, 0x60);
	kout(DATA, 0x04);
	kout(CMD, 0xaa);
	cr_assert_not(kirq.level);
	kout(CMD, 0x60);
	kout(DATA, 0x05);
	cr_assert(kirq.level, "0x55 is waiting and KBDINT is now on");
	kout(CMD, 0x60);
	kout(DATA, 0x04);
	cr_assert_not(kirq.level);
	cr_assert_eq(kin(DATA), 0x55);
	cr_assert_eq(kirq.rises, 1);
}

Test(i8042, ctrl_alt_del_set2)
{
	cr_assert_eq(i8042_send_ctrl_alt_del(kbc), 0);
	cr_assert(kirq.level);
	const uint8_t want[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
	for (unsigned i = 0; i < sizeof(want); i++)
		cr_assert_eq(kin(DATA), want[i], "byte %u", i);
	cr_assert_not(kirq.level);
	cr_assert_eq(kirq.rises, (int)sizeof(want));
	i8042_expect_empty();
}

Test(i8042, ctrl_alt_del_translated_and_full_queue)
{
	kout(CMD, 0x60);
	kout(DATA, 0x45); /* XLATE | SYS | KBDINT */
	cr_assert_eq(i8042_send_ctrl_alt_del(kbc), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(kbc), 0, "8 + 8 bytes fit");
	cr_assert_eq(i8042_send_ctrl_alt_del(kbc), -ENOSPC);
	const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(kin(DATA), want[i % 8], "byte %u", i);
	cr_assert_eq(i8042_dropped(kbc), 0);
}

Test(i8042, hostile_guest_cannot_overflow)
{
	for (int i = 0; i < 100; i++)
		kout(DATA, 0xff);
	cr_assert_eq(i8042_dropped(kbc), 200 - 16);
	int n = 0;
	while ((kin(CMD) & STR_OBF) && n < 100) {
		kin(DATA);
		n++;
	}
	cr_assert_eq(n, 16);
	uint32_t v = 0xffffffff;
	cr_assert_eq(bus_read(&kpio, DATA, &v, 4), -ENOENT);
	i8042_data_ops.read(kbc, 0, &v, 4);
	cr_assert_eq(v, 0);
	i8042_cmd_ops.write(kbc, 0, &v, 4); /* a 4-byte "0x00000000" is ignored */
	i8042_cmd_ops.write(kbc, 3, &v, 1);
	kout(CMD, 0x20);
	cr_assert_eq(i8042_reply(), 0x05);
	cr_assert_eq(resets, 0);
}

/* --- snapshot state --- */

/* Leaves something in every field: AUX and keyboard bytes queued, a
 * keyboard parameter and a controller data byte awaited. */
static void i8042_busy_state(void)
{
	kout(CMD, 0xd3);
	kout(DATA, 0x5a); /* AUX byte at the head: IRQ 1 stays low */
	kout(DATA, 0xf2); /* ACK, 0xab, 0x83 */
	kout(DATA, 0xed); /* ACK, parameter awaited */
	kout(CMD, 0x60);  /* command byte awaited, last write to 0x64 */
}

static int i8042_blob(struct i8042 *d, uint8_t *buf)
{
	int n = i8042_device_ops.save(d, buf, sizeof(struct i8042_state));
	cr_assert_eq(n, (int)sizeof(struct i8042_state));
	return n;
}

Test(i8042, state_round_trip_goes_on_identically)
{
	i8042_busy_state();
	cr_assert_eq(kin(DATA), 0x5a); /* a keyboard byte now heads the queue */
	cr_assert(kirq.level);
	uint8_t buf[sizeof(struct i8042_state) + 1], small[8];
	int n = i8042_blob(kbc, buf);
	cr_expect_eq(i8042_device_ops.save(kbc, small, sizeof(small)), -ENOSPC);

	struct fake_irq irq2 = { 0 };
	struct irq_line line = { fake_irq_set, &irq2, 1 };
	struct i8042 *d2;
	struct bus pio2;
	bus_init(&pio2, "pio2");
	cr_assert_eq(i8042_create(&d2, &line, NULL, NULL), 0);
	cr_assert_eq(i8042_register(d2, &pio2), 0);
	/* Unaligned, as a blob inside a state file may be. */
	memmove(buf + 1, buf, (size_t)n);
	cr_assert_eq(i8042_device_ops.restore(d2, buf + 1, (size_t)n), 0);
	cr_expect_eq(irq2.calls, 0, "the irqchip's snapshot carries the line");
	uint8_t again[sizeof(struct i8042_state)];
	i8042_blob(d2, again);
	cr_assert_eq(memcmp(again, buf + 1, (size_t)n), 0);

	/* Both devices answer the same from here on (the line's level came
	 * back with the irqchip). */
	irq2.level = kirq.level;
	const struct { uint16_t port; bool write; uint8_t v; } seq[] = {
		{ CMD, false, 0 }, { DATA, true, 0x45 }, { CMD, false, 0 }, { DATA, false, 0 },
		{ DATA, false, 0 }, { DATA, false, 0 }, { DATA, true, 0x07 }, { DATA, false, 0 },
		{ DATA, false, 0 }, { CMD, false, 0 }, { DATA, true, 0xf2 }, { DATA, false, 0 },
		{ DATA, false, 0 }, { DATA, false, 0 }, { DATA, false, 0 },
	};
	for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint8_t a = 0, b = 0;
		if (seq[i].write) {
			kout(seq[i].port, seq[i].v);
			cr_assert_eq(bus_write(&pio2, seq[i].port, &seq[i].v, 1), 0);
		} else {
			a = kin(seq[i].port);
			cr_assert_eq(bus_read(&pio2, seq[i].port, &b, 1), 0);
		}
		cr_assert_eq(a, b, "step %u: 0x%02x vs 0x%02x", i, a, b);
		cr_assert_eq(kirq.level, irq2.level, "step %u: IRQ 1", i);
	}
	i8042_destroy(d2);
	bus_destroy(&pio2);
}

Test(i8042, state_truncated_or_long_refused)
{
	i8042_busy_state();
	uint8_t buf[sizeof(struct i8042_state) + 1] = { 0 }, before[sizeof(struct i8042_state)];
	int n = i8042_blob(kbc, buf);
	i8042_blob(kbc, before);
	for (int len = 0; len < n; len++)
		cr_assert_eq(i8042_device_ops.restore(kbc, buf, (size_t)len), -EINVAL, "len %d", len);
	cr_assert_eq(i8042_device_ops.restore(kbc, buf, (size_t)n + 1), -EINVAL);
	uint8_t now[sizeof(struct i8042_state)];
	i8042_blob(kbc, now);
	cr_assert_eq(memcmp(now, before, sizeof(now)), 0);
}

Test(i8042, state_every_flipped_byte_is_refused_or_coherent)
{
	i8042_busy_state();
	kin(DATA); /* keyboard byte at the head: IRQ 1 high */
	struct i8042_state good;
	i8042_save(kbc, &good);
	cr_assert_eq(good.count, 4);
	/* Fields where any change must be caught (the queue past `count`
	 * included); ctr, last and the queued bytes may hold anything. */
	size_t must[] = { 0, 1, 2, 3, offsetof(struct i8042_state, status_cmd),
			  offsetof(struct i8042_state, ctl_pending),
			  offsetof(struct i8042_state, kbd_pending),
			  offsetof(struct i8042_state, irq_level),
			  offsetof(struct i8042_state, count),
			  offsetof(struct i8042_state, reserved),
			  offsetof(struct i8042_state, queue) + 4,
			  offsetof(struct i8042_state, queue) + 15,
			  offsetof(struct i8042_state, queue_aux) + 1,
			  offsetof(struct i8042_state, reserved2),
			  offsetof(struct i8042_state, reserved2) + 1 };
	for (size_t i = 0; i < sizeof(good); i++) {
		for (unsigned x = 1; x < 256; x <<= 1) {
			struct i8042_state bad = good;
			((uint8_t *)&bad)[i] ^= (uint8_t)x;
			struct i8042 *d;
			struct irq_line line = { 0 };
			cr_assert_eq(i8042_create(&d, &line, NULL, NULL), 0);
			struct i8042_state fresh, after;
			i8042_save(d, &fresh);
			int r = i8042_restore(d, &bad);
			cr_assert(r == 0 || r == -EINVAL);
			i8042_save(d, &after);
			if (r == 0)
				cr_assert_eq(memcmp(&after, &bad, sizeof(bad)), 0, "byte %zu", i);
			else
				cr_assert_eq(memcmp(&after, &fresh, sizeof(fresh)), 0, "byte %zu", i);
			i8042_destroy(d);
		}
		struct i8042_state bad = good;
		((uint8_t *)&bad)[i] ^= 0xff;
		for (size_t k = 0; k < sizeof(must) / sizeof(must[0]); k++)
			if (must[k] == i)
				cr_assert_eq(i8042_restore(kbc, &bad), -EINVAL, "byte %zu", i);
	}
}

Test(i8042, state_inconsistent_irq_refused)
{
	struct i8042_state st;
	i8042_save(kbc, &st);
	st.count = 1;
	st.queue[0] = 0xfa;
	cr_expect_eq(i8042_restore(kbc, &st), -EINVAL, "a keyboard byte with KBDINT: line up");
	st.irq_level = 1;
	cr_expect_eq(i8042_restore(kbc, &st), 0);
	st.queue_aux = 1;
	cr_expect_eq(i8042_restore(kbc, &st), -EINVAL, "an AUX byte never raises IRQ 1");
	st.queue_aux = 0;
	st.ctr = 0;
	cr_expect_eq(i8042_restore(kbc, &st), -EINVAL, "no KBDINT, no IRQ");
	st.version = 2;
	st.ctr = 0x05;
	cr_expect_eq(i8042_restore(kbc, &st), -EINVAL);
}
