/* The UART, driven only through the port bus, the way the Linux 8250
 * driver would. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/bus.h"
#include "runtime/base/outbuf.h"
#include "runtime/devices/serial.h"
#include "tests/unit/fake_irq.h"
#include "tests/unit/test_stall.h"

#define COM1 0x3f8
#define RBR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

static struct fake_irq fake;
static struct bus pio;
static struct serial *uart;
static int pipefd[2];

static void serial_setup(void)
{
	memset(&fake, 0, sizeof(fake));
	bus_init(&pio, "pio");
	cr_assert_eq(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
	struct irq_line irq = { fake_irq_set, &fake, 4 };
	cr_assert_eq(serial_create(&uart, &irq, pipefd[1]), 0);
	cr_assert_eq(serial_register(uart, &pio, COM1), 0);
}

static void serial_teardown(void)
{
	serial_destroy(uart);
	bus_destroy(&pio);
	close(pipefd[0]);
	close(pipefd[1]);
}

static uint8_t inb(uint16_t port)
{
	uint8_t v = 0xee;
	cr_assert_eq(bus_read(&pio, port, &v, 1), 0);
	return v;
}

static void outb(uint16_t port, uint8_t v)
{
	cr_assert_eq(bus_write(&pio, port, &v, 1), 0);
}

TestSuite(serial, .init = serial_setup, .fini = serial_teardown);

Test(serial, registers_eight_ports_only)
{
	cr_assert_not_null(bus_find(&pio, COM1, 1));
	cr_assert_not_null(bus_find(&pio, COM1 + 7, 1));
	cr_assert_null(bus_find(&pio, COM1 + 8, 1));
	cr_assert_null(bus_find(&pio, COM1 - 1, 1));
	cr_assert_eq(serial_register(uart, &pio, COM1 + 4), -EEXIST);
}

/* autoconfig() in 8250_port.c: IER test, loopback test, FIFO detection. */
Test(serial, linux_autoconfig_probe)
{
	outb(IER, 0);
	cr_assert_eq(inb(IER) & 0x0f, 0);
	outb(IER, 0xff);
	cr_assert_eq(inb(IER), 0x0f, "IER bits 4-7 must read as 0");
	outb(IER, 0);

	outb(SCR, 0xa5);
	cr_assert_eq(inb(SCR), 0xa5);
	outb(SCR, 0x5a);
	cr_assert_eq(inb(SCR), 0x5a);

	uint8_t save_mcr = inb(MCR);
	outb(MCR, 0x10 | 0x0a); /* LOOP | OUT2 | RTS */
	cr_assert_eq(inb(MSR) & 0xf0, 0x90);
	outb(MCR, save_mcr);
	cr_assert_eq(inb(MSR) & 0xf0, 0xb0, "outside loopback DCD|DSR|CTS");

	outb(LCR, 0xbf); /* UART_LCR_CONF_MODE_B, then EFR = 0 */
	outb(FCR, 0);
	outb(LCR, 0);
	outb(FCR, 0x01);
	cr_assert_eq(inb(IIR) >> 6, 3, "16550A reports both FIFO bits");
	cr_assert_eq(inb(IIR) & 0x20, 0, "not a 16750 (64-byte FIFO bit)");
	outb(FCR, 0);
	cr_assert_eq(inb(IIR), 0x01, "no FIFO bits, no interrupt");
	/* IER = 0x0f raised THRE for a moment; the line must end low. */
	cr_assert_not(fake.level);
	cr_assert_eq(fake.rises, 1);
}

Test(serial, loopback_sends_thr_to_rbr)
{
	outb(MCR, 0x10);
	outb(RBR, 'x');
	cr_assert_eq(inb(LSR) & 0x01, 0x01);
	cr_assert_eq(inb(RBR), 'x');
	cr_assert_eq(inb(LSR) & 0x01, 0);
	char c;
	cr_assert_eq(read(pipefd[0], &c, 1), -1, "nothing reaches the host in loopback");
	cr_assert_eq(serial_rx_space(uart), 0, "receiver is cut off in loopback");
	outb(MCR, 0x1f);
	cr_assert_eq(inb(MSR) & 0xf0, 0xf0);
	outb(MCR, 0x10);
	cr_assert_eq(inb(MSR), 0x0f, "CTS, DSR, DCD changed; RI trailing edge");
}

Test(serial, loopback_overrun_sets_oe_until_lsr_read)
{
	outb(MCR, 0x10); /* FIFOs off: one holding register */
	outb(RBR, 1);
	outb(RBR, 2);
	uint8_t lsr = inb(LSR);
	cr_assert_eq(lsr & 0x63, 0x63, "DR, OE, THRE, TEMT: got 0x%x", lsr);
	cr_assert_eq(inb(LSR) & 0x02, 0, "OE clears on read");
	cr_assert_eq(inb(RBR), 1);
}

Test(serial, divisor_latch)
{
	outb(LCR, 0x83);
	outb(RBR, 0x01);
	outb(IER, 0x02);
	cr_assert_eq(inb(RBR), 0x01);
	cr_assert_eq(inb(IER), 0x02);
	outb(LCR, 0x03);
	cr_assert_eq(inb(IER), 0x00, "DLM write must not touch IER");
	cr_assert_eq(fake.calls, 0);
	char c;
	cr_assert_eq(read(pipefd[0], &c, 1), -1, "DLL write is not output");
	outb(LCR, 0x83);
	cr_assert_eq(inb(RBR), 0x01);
	cr_assert_eq(inb(IER), 0x02);
}

Test(serial, tx_goes_to_out_fd)
{
	const char *msg = "hello\n";
	for (const char *p = msg; *p; p++)
		outb(RBR, (uint8_t)*p);
	char buf[16] = { 0 };
	cr_assert_eq(read(pipefd[0], buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, msg);
	struct serial_stats st;
	serial_get_stats(uart, &st);
	cr_assert_eq(st.out_bytes, 6);
	cr_assert_eq(st.out_dropped, 0);
	cr_assert_eq(inb(LSR) & 0x60, 0x60, "THRE and TEMT always set");
}

/* The console's reader stopped (a blocking pipe, as stdout usually is):
 * THR writes neither wait nor touch the fd's flags; 64 KiB wait in the
 * output buffer, the rest is dropped and counted. */
Test(serial, tx_to_stalled_console_drops_without_blocking, .timeout = 10)
{
	int p[2];
	stall_pipe(p);
	int flags = fcntl(p[1], F_GETFL);
	struct serial *s;
	struct bus bus;
	bus_init(&bus, "pio2");
	cr_assert_eq(serial_create(&s, NULL, p[1]), 0);
	cr_assert_eq(serial_register(s, &bus, COM1), 0);
	double t0 = stall_now();
	uint8_t z = 'z';
	for (int i = 0; i < 65536 + 200; i++)
		cr_assert_eq(bus_write(&bus, COM1, &z, 1), 0);
	double secs = stall_now() - t0;
	cr_assert_lt(secs, 2.0, "64 KiB + 200 bytes took %f s", secs);
	struct serial_stats st;
	serial_get_stats(s, &st);
	cr_assert_eq(st.out_dropped, 200);
	cr_assert_eq(st.out_bytes, 65536);
	cr_assert_eq(fcntl(p[1], F_GETFL), flags, "the console fd keeps its flags");

	/* Once the reader drains, the queue goes out and bytes flow again. */
	struct outbuf *ob = serial_output(s);
	cr_assert_not_null(ob);
	size_t got = 0;
	char buf[4096];
	while (outbuf_pending(ob)) {
		outbuf_flush(ob);
		ssize_t n = read(p[0], buf, sizeof(buf));
		cr_assert_gt(n, 0);
		got += (size_t)n;
	}
	stall_pipe_empty(p[0]);
	uint8_t k = 'k';
	cr_assert_eq(bus_write(&bus, COM1, &k, 1), 0);
	cr_assert_eq(read(p[0], buf, 1), 1);
	cr_assert_eq(buf[0], 'k');
	serial_get_stats(s, &st);
	cr_assert_eq(st.out_bytes, 65537);
	serial_destroy(s);
	bus_destroy(&bus);
	close(p[0]);
	close(p[1]);
}

Test(serial, rx_fifo_fill_overflow_drain)
{
	cr_assert_eq(serial_rx_space(uart), 1, "FIFOs off: one byte");
	outb(FCR, 0x07);
	cr_assert_eq(serial_rx_space(uart), SERIAL_FIFO_SIZE);
	uint8_t in[100];
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	cr_assert_eq(serial_receive(uart, in, sizeof(in)), SERIAL_FIFO_SIZE);
	cr_assert_eq(serial_rx_space(uart), 0);
	cr_assert_eq(serial_receive(uart, in, 1), 0);
	cr_assert_eq(inb(LSR) & 0x03, 0x01, "DR, no overrun: input is flow-controlled");
	for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++)
		cr_assert_eq(inb(RBR), i);
	cr_assert_eq(inb(LSR) & 0x01, 0);
	cr_assert_eq(inb(RBR), 0);
	struct serial_stats st;
	serial_get_stats(uart, &st);
	cr_assert_eq(st.in_bytes, SERIAL_FIFO_SIZE);
	cr_assert_eq(st.missed_reads, 1);
	cr_assert_eq(fake.calls, 0, "no interrupt with IER = 0");
}

Test(serial, fcr_clears_rx_fifo)
{
	outb(FCR, 0x01);
	cr_assert_eq(serial_receive(uart, (const uint8_t *)"abc", 3), 3);
	outb(FCR, 0x03);
	cr_assert_eq(inb(LSR) & 0x01, 0);
	cr_assert_eq(serial_receive(uart, (const uint8_t *)"abc", 3), 3);
	outb(FCR, 0x00); /* turning FIFOs off resets them too */
	cr_assert_eq(inb(LSR) & 0x01, 0);
}

static void serial_count_cb(void *ctx)
{
	(*(int *)ctx)++;
}

Test(serial, rx_ready_callback_after_drain)
{
	int n = 0;
	serial_set_rx_ready_cb(uart, serial_count_cb, &n);
	cr_assert_eq(serial_receive(uart, (const uint8_t *)"ab", 2), 1);
	cr_assert_eq(n, 0);
	inb(LSR);
	cr_assert_eq(n, 0, "FIFO still holds a byte");
	inb(RBR);
	cr_assert_eq(n, 1);
	inb(RBR);
	cr_assert_eq(n, 1, "one notification per refusal");
}

/* The THRE test in serial8250_do_startup(), then the TX interrupt cycle. */
Test(serial, thre_interrupt)
{
	outb(FCR, 0x01);
	outb(MCR, 0x0b);
	outb(IER, 0x02);
	cr_assert(fake.level);
	cr_assert_eq(fake.gsi, 4);
	cr_assert_eq(inb(IIR), 0xc2);
	cr_assert_not(fake.level, "IIR read clears a reported THRE");
	cr_assert_eq(inb(IIR), 0xc1);
	outb(IER, 0);
	outb(IER, 0x02);
	cr_assert_eq(inb(IIR), 0xc2, "THRE re-asserted after IER toggle");
	cr_assert_eq(fake.rises, 2);

	outb(RBR, 'a');
	cr_assert(fake.level, "THR write re-arms THRE");
	cr_assert_eq(fake.rises, 3);
	outb(RBR, 'b'); /* still pending: needs a fresh edge */
	cr_assert_eq(fake.rises, 4);
	cr_assert_eq(fake.falls, 3);
	outb(IER, 0); /* __stop_tx() */
	cr_assert_not(fake.level);
	cr_assert_eq(inb(IIR), 0xc1);
}

Test(serial, rx_interrupt_has_priority_over_thre)
{
	outb(FCR, 0x01);
	outb(IER, 0x03);
	cr_assert_eq(fake.rises, 1);
	cr_assert_eq(serial_receive(uart, (const uint8_t *)"xy", 2), 2);
	cr_assert_eq(fake.rises, 2, "new RX condition while high gives a new edge");
	cr_assert_eq(inb(IIR), 0xc4);
	cr_assert_eq(inb(IIR), 0xc4, "RX stays pending until drained");
	cr_assert_eq(inb(RBR), 'x');
	cr_assert_eq(inb(RBR), 'y');
	cr_assert(fake.level, "THRE still pending");
	cr_assert_eq(inb(IIR), 0xc2);
	cr_assert_not(fake.level);
	cr_assert_eq(serial_receive(uart, (const uint8_t *)"z", 1), 1);
	cr_assert(fake.level);
	cr_assert_eq(fake.rises, 3);
	cr_assert_eq(inb(RBR), 'z');
	cr_assert_not(fake.level);
}

Test(serial, rx_interrupt_needs_erbfi)
{
	cr_assert_eq(serial_receive(uart, (const uint8_t *)"q", 1), 1);
	cr_assert_eq(fake.calls, 0);
	outb(IER, 0x01);
	cr_assert(fake.level, "enabling ERBFI with data waiting interrupts");
	cr_assert_eq(inb(IIR), 0x04);
}

Test(serial, line_status_interrupt)
{
	outb(MCR, 0x10);
	outb(IER, 0x04);
	outb(RBR, 1);
	cr_assert_not(fake.level);
	outb(RBR, 2); /* overrun */
	cr_assert(fake.level);
	cr_assert_eq(inb(IIR), 0x06);
	inb(LSR);
	cr_assert_not(fake.level);
}

Test(serial, modem_status_interrupt)
{
	outb(MCR, 0x10);
	inb(MSR);
	outb(IER, 0x08);
	cr_assert_not(fake.level);
	outb(MCR, 0x12); /* RTS -> CTS in loopback */
	cr_assert(fake.level);
	cr_assert_eq(inb(IIR), 0x00);
	cr_assert_eq(inb(MSR), 0x11);
	cr_assert_not(fake.level);
}

Test(serial, hostile_widths_are_ignored)
{
	uint32_t v = 0xffffffff;
	cr_assert_eq(bus_read(&pio, COM1, &v, 4), 0);
	cr_assert_eq(v, 0);
	uint16_t w = 0x4141;
	cr_assert_eq(bus_write(&pio, COM1, &w, 2), 0);
	cr_assert_eq(bus_write(&pio, COM1 + 1, &w, 2), 0);
	cr_assert_eq(inb(IER), 0);
	char c;
	cr_assert_eq(read(pipefd[0], &c, 1), -1);
	cr_assert_eq(bus_read(&pio, COM1 + 6, &v, 4), -ENOENT, "straddles the end");
	serial_bus_ops.read(uart, 8, &c, 1);
	serial_bus_ops.write(uart, 0xffff, &c, 1);
	cr_assert_eq(fake.calls, 0);
}

static void serial_fill_state(void)
{
	outb(LCR, 0x80);
	outb(RBR, 0x03);
	outb(IER, 0x00);
	outb(LCR, 0x1b);
	outb(FCR, 0x81);
	outb(SCR, 0x42);
	outb(IER, 0x03);
	cr_assert_eq(serial_receive(uart, (const uint8_t *)"snap", 4), 4);
	inb(RBR); /* move the FIFO head off slot 0 */
}

Test(serial, save_restore_round_trip)
{
	serial_fill_state();
	struct serial_state st;
	serial_save(uart, &st);
	cr_assert_eq(st.version, SERIAL_STATE_VERSION);
	cr_assert_eq(st.rx_count, 3);
	cr_assert_eq(memcmp(st.rx_fifo, "nap", 3), 0);

	struct fake_irq fake2 = { 0 };
	struct irq_line irq = { fake_irq_set, &fake2, 4 };
	struct serial *u2;
	struct bus pio2;
	bus_init(&pio2, "pio2");
	cr_assert_eq(serial_create(&u2, &irq, -1), 0);
	cr_assert_eq(serial_register(u2, &pio2, COM1), 0);
	cr_assert_eq(serial_restore(u2, &st), 0);
	cr_assert_eq(fake2.calls, 0, "restore leaves the line to the irqchip snapshot");

	struct serial_state st2;
	serial_save(u2, &st2);
	cr_assert_eq(memcmp(&st, &st2, sizeof(st)), 0);
	uint8_t v;
	const uint16_t ports[] = { IIR, LCR, SCR, IER, RBR, RBR, RBR, LSR };
	for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		bus_read(&pio2, ports[i], &v, 1);
		cr_assert_eq(v, inb(ports[i]), "port 0x%x differs", ports[i]);
	}
	outb(LCR, 0x9b);
	bus_write(&pio2, LCR, (uint8_t[]){ 0x9b }, 1);
	bus_read(&pio2, RBR, &v, 1);
	cr_assert_eq(v, 0x03, "divisor survives");
	serial_destroy(u2);
	bus_destroy(&pio2);
}

Test(serial, restore_rejects_bad_states)
{
	serial_fill_state();
	struct serial_state good, bad;
	serial_save(uart, &good);

#define SERIAL_EXPECT_REJECT(mutation)                                              \
	do {                                                                        \
		bad = good;                                                         \
		mutation;                                                           \
		cr_assert_eq(serial_restore(uart, &bad), -EINVAL, "%s accepted", #mutation); \
	} while (0)

	SERIAL_EXPECT_REJECT(bad.version = 2);
	SERIAL_EXPECT_REJECT(bad.version = 0);
	SERIAL_EXPECT_REJECT(bad.rx_count = SERIAL_FIFO_SIZE + 1);
	SERIAL_EXPECT_REJECT(bad.rx_count = 0xffffffff);
	SERIAL_EXPECT_REJECT((bad.fcr = 0, bad.rx_count = 2));
	SERIAL_EXPECT_REJECT(bad.ier = 0x10);
	SERIAL_EXPECT_REJECT(bad.fcr = 0x06);
	SERIAL_EXPECT_REJECT(bad.fcr = 0x80);
	SERIAL_EXPECT_REJECT(bad.mcr = 0x20);
	SERIAL_EXPECT_REJECT(bad.lsr = 0x01);
	SERIAL_EXPECT_REJECT(bad.msr = 0x90);
	SERIAL_EXPECT_REJECT(bad.thr_ipending = 2);
	SERIAL_EXPECT_REJECT(bad.irq_level = 2);
	SERIAL_EXPECT_REJECT(bad.irq_level = 0);
	SERIAL_EXPECT_REJECT(bad.reserved = 1);

	/* The device is untouched by the rejected attempts. */
	struct serial_state now;
	serial_save(uart, &now);
	cr_assert_eq(memcmp(&now, &good, sizeof(now)), 0);
	cr_assert_eq(serial_restore(uart, &good), 0);
	bad = good;
	bad.rx_count = SERIAL_FIFO_SIZE;
	cr_assert_eq(serial_restore(uart, &bad), 0, "a full FIFO is valid");
}
