/* 8250/16550A UART. Register semantics follow the TI/National PC16550D
 * datasheet; the behaviours the Linux driver depends on are noted where
 * they are implemented (drivers/tty/serial/8250/8250_port.c). Transmission
 * is instantaneous: THR is always empty, so LSR.THRE and LSR.TEMT are
 * always set and no TX FIFO is modelled. What the host's console does not
 * take at once waits in a bounded output buffer (serial_output): a stalled
 * reader costs the guest bytes, never a blocked vCPU. */
#include "runtime/devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"
#include "runtime/base/outbuf.h"

enum {
	SERIAL_RBR_THR = 0, /* DLL when LCR.DLAB */
	SERIAL_IER = 1,     /* DLM when LCR.DLAB */
	SERIAL_IIR_FCR = 2,
	SERIAL_LCR = 3,
	SERIAL_MCR = 4,
	SERIAL_LSR = 5,
	SERIAL_MSR = 6,
	SERIAL_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f  /* bits 4-7 read as 0: the driver's probe checks it */

#define IIR_NO_INT 0x01
#define IIR_MS 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_FIFO_BITS 0xc0 /* read back as 3 by autoconfig: "16550A" */

#define FCR_FIFO_EN 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_KEEP 0xc1 /* enable + RX trigger level; other bits act once */

#define LCR_DLAB 0x80
#define MCR_MASK 0x1f
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DELTA 0x0f
#define MSR_TERI 0x04
#define MSR_RI 0x40
/* Outside loopback the line is always ready: DCD, DSR and CTS asserted,
 * as Firecracker does, so flow-controlled consoles never stall. */
#define MSR_DEFAULT_STATUS 0xb0

/* Pending interrupt sources, one bit each, in IIR priority order. */
#define SRC_RLS 0x1
#define SRC_RDA 0x2
#define SRC_THRE 0x4
#define SRC_MS 0x8

/* A console reader may lag this far behind before bytes are dropped. */
#define SERIAL_OUT_BUFFER (64u << 10)

struct serial {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct outbuf *out; /* NULL: output discarded */
	bool out_stalled; /* dropping since the buffer filled: said once */
	void (*rx_ready_cb)(void *ctx);
	void *rx_ready_ctx;
	bool rx_waiting; /* the VMM was refused input; notify once the FIFO empties */

	uint8_t dll, dlm, ier, fcr, lcr, mcr, lsr_err, msr, scr;
	bool thr_ipending;
	bool irq_level;
	uint8_t prev_src; /* sources pending after the last update */
	uint8_t rx[SERIAL_FIFO_SIZE];
	uint32_t rx_head, rx_count;
	struct serial_stats stats;
};

static uint32_t serial_rx_capacity(const struct serial *s)
{
	/* With FIFOs off the 16550 has a single receive holding register. */
	return (s->fcr & FCR_FIFO_EN) ? SERIAL_FIFO_SIZE : 1;
}

/* Loopback wiring (datasheet, MCR bit 4): RTS->CTS, DTR->DSR, OUT1->RI,
 * OUT2->DCD. Linux's autoconfig writes MCR = LOOP|OUT2|RTS and expects
 * MSR & 0xf0 == 0x90. */
static uint8_t serial_modem_status(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return MSR_DEFAULT_STATUS;
	return (uint8_t)(((mcr & 0x02) << 3) | ((mcr & 0x01) << 5) | ((mcr & 0x04) << 4) |
			 ((mcr & 0x08) << 4));
}

static uint8_t serial_sources(const struct serial *s)
{
	uint8_t src = 0;
	if ((s->ier & IER_ELSI) && s->lsr_err)
		src |= SRC_RLS;
	/* Real UARTs wait for the trigger level or a character timeout; the
	 * driver treats both the same, so any data raises RDA at once. */
	if ((s->ier & IER_ERBFI) && s->rx_count)
		src |= SRC_RDA;
	if ((s->ier & IER_ETBEI) && s->thr_ipending)
		src |= SRC_THRE;
	if ((s->ier & IER_EDSSI) && (s->msr & MSR_DELTA))
		src |= SRC_MS;
	return src;
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t src = serial_sources(s), iir;
	if (src & SRC_RLS)
		iir = IIR_RLS;
	else if (src & SRC_RDA)
		iir = IIR_RDA;
	else if (src & SRC_THRE)
		iir = IIR_THRE;
	else if (src & SRC_MS)
		iir = IIR_MS;
	else
		iir = IIR_NO_INT;
	return (uint8_t)(iir | ((s->fcr & FCR_FIFO_EN) ? IIR_FIFO_BITS : 0));
}

/* Drives the line from the pending sources. KVM's PIC and IOAPIC treat
 * ISA IRQ 4 as edge-triggered, so a source that becomes pending while the
 * line is already high is signalled by dropping and raising it again;
 * otherwise the guest could miss it. Called with the lock held. */
static void serial_update_irq(struct serial *s)
{
	uint8_t src = serial_sources(s);
	uint8_t fresh = src & (uint8_t)~s->prev_src;
	s->prev_src = src;
	if (!src) {
		if (s->irq_level)
			irq_line_set(&s->irq, false);
		s->irq_level = false;
	} else if (!s->irq_level) {
		irq_line_set(&s->irq, true);
		s->irq_level = true;
	} else if (fresh) {
		irq_line_set(&s->irq, false);
		irq_line_set(&s->irq, true);
	}
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = s->rx_count = 0;
}

static bool serial_rx_push(struct serial *s, uint8_t b)
{
	if (s->rx_count >= serial_rx_capacity(s))
		return false;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = b;
	s->rx_count++;
	return true;
}

/* Never waits: the byte goes out, waits in the buffer, or is dropped. */
static void serial_out_byte(struct serial *s, uint8_t b)
{
	if (!s->out)
		return;
	int r = outbuf_put(s->out, &b, 1);
	if (r == 0) {
		s->stats.out_bytes++;
		/* Caught up: a later stall is news again. */
		if (s->out_stalled && outbuf_pending(s->out) == 0)
			s->out_stalled = false;
		return;
	}
	s->stats.out_dropped++;
	if (!s->out_stalled) /* once per stall; stats count every byte */
		log_ratelimited(LOG_WARN,
				"serial: the console output is %s: dropping the guest's output "
				"(uart.missed_write_count)",
				r == -ENOBUFS ? "not being read" : strerror(-r));
	s->out_stalled = true;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t off)
{
	uint8_t v = 0;
	switch (off) {
	case SERIAL_RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_count) {
			s->stats.missed_reads++;
			return 0;
		}
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
		s->rx_count--;
		return v;
	case SERIAL_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case SERIAL_IIR_FCR:
		v = serial_iir(s);
		/* Reading IIR clears a THRE interrupt it reports (datasheet
		 * table 4); the driver's THRE test relies on it re-arming
		 * when IER.ETBEI is toggled. */
		if ((v & 0x0f) == IIR_THRE)
			s->thr_ipending = false;
		return v;
	case SERIAL_LCR:
		return s->lcr;
	case SERIAL_MCR:
		return s->mcr;
	case SERIAL_LSR:
		v = (uint8_t)((s->rx_count ? LSR_DR : 0) | s->lsr_err | LSR_THRE | LSR_TEMT);
		s->lsr_err = 0; /* error bits clear on read */
		return v;
	case SERIAL_MSR:
		v = s->msr;
		s->msr &= (uint8_t)~MSR_DELTA;
		return v;
	case SERIAL_SCR:
		return s->scr;
	}
	return 0;
}

static void serial_set_mcr(struct serial *s, uint8_t val)
{
	uint8_t old = s->msr & 0xf0;
	s->mcr = val & MCR_MASK;
	uint8_t now = serial_modem_status(s->mcr);
	uint8_t delta = (uint8_t)((old ^ now) >> 4) & 0x0b; /* DCTS, DDSR, DDCD */
	if ((old & MSR_RI) && !(now & MSR_RI))
		delta |= MSR_TERI; /* trailing edge of RI only */
	s->msr = (uint8_t)(now | (s->msr & MSR_DELTA) | delta);
}

static void serial_write_reg(struct serial *s, uint64_t off, uint8_t val)
{
	switch (off) {
	case SERIAL_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = val;
			return;
		}
		s->thr_ipending = false;
		if (!(s->mcr & MCR_LOOP))
			serial_out_byte(s, val);
		else if (!serial_rx_push(s, val))
			s->lsr_err |= LSR_OE;
		/* The byte left at once: THR is empty again, and that is a
		 * new THRE interrupt even if the last one was never read. */
		s->thr_ipending = true;
		s->prev_src &= (uint8_t)~SRC_THRE;
		return;
	case SERIAL_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = val;
			return;
		}
		/* Setting ETBEI while THR is empty raises THRE (as QEMU and
		 * Bochs do); clearing it drops the pending THRE. */
		if ((s->ier ^ val) & IER_ETBEI)
			s->thr_ipending = (val & IER_ETBEI) != 0;
		s->ier = val & IER_MASK;
		return;
	case SERIAL_IIR_FCR:
		/* Changing FCR0 resets the FIFOs; the other bits are only
		 * written while FCR0 is set (datasheet, FCR description). */
		if ((val ^ s->fcr) & FCR_FIFO_EN)
			serial_rx_clear(s);
		if (val & FCR_CLEAR_RX)
			serial_rx_clear(s);
		s->fcr = (val & FCR_FIFO_EN) ? (val & FCR_KEEP) : 0;
		return;
	case SERIAL_LCR:
		s->lcr = val;
		return;
	case SERIAL_MCR:
		serial_set_mcr(s, val);
		return;
	case SERIAL_SCR:
		s->scr = val;
		return;
	default: /* LSR and MSR writes are factory-test only: ignored */
		return;
	}
}

/* Called with the lock held; returns whether the VMM must be told. */
static bool serial_rx_ready_due(struct serial *s)
{
	if (!s->rx_waiting || s->rx_count || (s->mcr & MCR_LOOP))
		return false;
	s->rx_waiting = false;
	return s->rx_ready_cb != NULL;
}

static void serial_bus_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct serial *s = opaque;
	memset(data, 0, len);
	if (len != 1 || offset >= SERIAL_NR_PORTS) {
		log_ratelimited(LOG_DEBUG, "serial: ignored %u-byte read at +%u", len,
				(unsigned)offset);
		return;
	}
	pthread_mutex_lock(&s->lock);
	*(uint8_t *)data = serial_read_reg(s, offset);
	serial_update_irq(s);
	bool notify = serial_rx_ready_due(s);
	pthread_mutex_unlock(&s->lock);
	if (notify)
		s->rx_ready_cb(s->rx_ready_ctx);
}

static void serial_bus_write(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	struct serial *s = opaque;
	if (len != 1 || offset >= SERIAL_NR_PORTS) {
		log_ratelimited(LOG_DEBUG, "serial: ignored %u-byte write at +%u", len,
				(unsigned)offset);
		return;
	}
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, offset, *(const uint8_t *)data);
	serial_update_irq(s);
	bool notify = serial_rx_ready_due(s);
	pthread_mutex_unlock(&s->lock);
	if (notify)
		s->rx_ready_cb(s->rx_ready_ctx);
}

const struct bus_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

static void serial_reset(struct serial *s)
{
	/* Firecracker's power-on values: 9600 baud (divisor 12), 8N1, OUT2. */
	s->dll = 12;
	s->dlm = 0;
	s->ier = 0;
	s->fcr = 0;
	s->lcr = 0x03;
	s->mcr = 0x08;
	s->lsr_err = 0;
	s->msr = MSR_DEFAULT_STATUS;
	s->scr = 0;
	s->thr_ipending = false;
	s->irq_level = false;
	s->prev_src = 0;
	serial_rx_clear(s);
}

int serial_create(struct serial **out, const struct irq_line *irq, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int err = pthread_mutex_init(&s->lock, NULL);
	if (err) {
		free(s);
		return -err;
	}
	if (irq)
		s->irq = *irq;
	if (out_fd >= 0) {
		struct outfd sink;
		int r = outbuf_create(&s->out, SERIAL_OUT_BUFFER);
		if (r == 0)
			r = outfd_open_shared(&sink, out_fd);
		if (r < 0) {
			outbuf_destroy(s->out);
			pthread_mutex_destroy(&s->lock);
			free(s);
			return r;
		}
		outbuf_set_sink(s->out, &sink);
	}
	serial_reset(s);
	*out = s;
	return 0;
}

int serial_register(struct serial *s, struct bus *pio, uint16_t base)
{
	return bus_add(pio, base, SERIAL_NR_PORTS, &serial_bus_ops, s, "serial");
}

struct outbuf *serial_output(struct serial *s)
{
	return s->out;
}

void serial_set_rx_ready_cb(struct serial *s, void (*cb)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->rx_ready_cb = cb;
	s->rx_ready_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}

/* In loopback the receiver is cut off from the line (datasheet, MCR bit 4),
 * so host input waits until the guest leaves it. */
static size_t serial_rx_space_locked(struct serial *s)
{
	if (s->mcr & MCR_LOOP)
		return 0;
	return serial_rx_capacity(s) - s->rx_count;
}

size_t serial_rx_space(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = serial_rx_space_locked(s);
	if (!n)
		s->rx_waiting = true;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	size_t n = serial_rx_space_locked(s);
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		serial_rx_push(s, buf[i]);
	if (n < len)
		s->rx_waiting = true;
	s->stats.in_bytes += n;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_get_stats(struct serial *s, struct serial_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

_Static_assert(sizeof(struct serial_state) == 20 + SERIAL_FIFO_SIZE,
	       "serial_state must have no padding");

void serial_save(struct serial *s, struct serial_state *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	out->version = SERIAL_STATE_VERSION;
	out->dll = s->dll;
	out->dlm = s->dlm;
	out->ier = s->ier;
	out->fcr = s->fcr;
	out->lcr = s->lcr;
	out->mcr = s->mcr;
	out->lsr = s->lsr_err;
	out->msr = s->msr;
	out->scr = s->scr;
	out->thr_ipending = s->thr_ipending;
	out->irq_level = s->irq_level;
	out->rx_count = s->rx_count;
	for (uint32_t i = 0; i < s->rx_count; i++)
		out->rx_fifo[i] = s->rx[(s->rx_head + i) % SERIAL_FIFO_SIZE];
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, const struct serial_state *in)
{
	/* Treat the state as hostile: it must be one the device could reach. */
	if (in->version != SERIAL_STATE_VERSION || (in->ier & ~IER_MASK) ||
	    (in->fcr & ~FCR_KEEP) || (in->fcr && !(in->fcr & FCR_FIFO_EN)) ||
	    (in->mcr & ~MCR_MASK) || (in->lsr & ~LSR_OE) ||
	    (in->msr & 0xf0) != serial_modem_status(in->mcr) || in->thr_ipending > 1 ||
	    in->irq_level > 1 || in->reserved ||
	    in->rx_count > ((in->fcr & FCR_FIFO_EN) ? SERIAL_FIFO_SIZE : 1u))
		return -EINVAL;

	struct serial tmp; /* register part only, checked before committing */
	memset(&tmp, 0, sizeof(tmp));
	tmp.ier = in->ier;
	tmp.lsr_err = in->lsr;
	tmp.msr = in->msr;
	tmp.thr_ipending = in->thr_ipending;
	tmp.rx_count = in->rx_count;
	/* A saved line level always matches the pending sources. */
	if ((serial_sources(&tmp) != 0) != (in->irq_level != 0))
		return -EINVAL;

	pthread_mutex_lock(&s->lock);
	s->dll = in->dll;
	s->dlm = in->dlm;
	s->ier = in->ier;
	s->fcr = in->fcr;
	s->lcr = in->lcr;
	s->mcr = in->mcr;
	s->lsr_err = in->lsr;
	s->msr = in->msr;
	s->scr = in->scr;
	s->thr_ipending = in->thr_ipending;
	s->irq_level = in->irq_level;
	s->rx_head = 0;
	s->rx_count = in->rx_count;
	memcpy(s->rx, in->rx_fifo, in->rx_count);
	s->prev_src = serial_sources(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	outbuf_destroy(s->out);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void serial_counters(void *dev, device_counter_fn fn, void *ctx)
{
	struct serial_stats st = { 0 };
	if (dev)
		serial_get_stats(dev, &st);
	fn(ctx, "error_count", 0);
	fn(ctx, "write_count", st.out_bytes);
	fn(ctx, "missed_write_count", st.out_dropped);
	fn(ctx, "read_count", st.in_bytes);
	fn(ctx, "missed_read_count", st.missed_reads);
}

static int serial_dev_save(void *dev, void *buf, size_t len)
{
	struct serial_state st;
	if (len < sizeof(st))
		return -ENOSPC;
	serial_save(dev, &st);
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int serial_dev_restore(void *dev, const void *buf, size_t len)
{
	struct serial_state st; /* buf need not be aligned */
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	return serial_restore(dev, &st);
}

static void serial_dev_destroy(void *dev)
{
	serial_destroy(dev);
}

const struct device_ops serial_device_ops = {
	.counters = serial_counters,
	.save = serial_dev_save,
	.restore = serial_dev_restore,
	.destroy = serial_dev_destroy,
};
