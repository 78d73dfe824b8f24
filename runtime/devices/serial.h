/* 8250/16550A UART on 8 I/O ports, enough for the Linux 8250 driver in
 * interrupt mode (drivers/tty/serial/8250/8250_port.c).
 *
 * Threading: bus callbacks run on vCPU threads, serial_receive() and the
 * stats/save/restore calls on the VMM thread; all share the device mutex.
 * The interrupt line is driven while that mutex is held, so that level
 * changes reach the interrupt controller in the order they were decided.
 * Rule: irq_line.set must never call back into this device (a KVM_IRQ_LINE
 * ioctl or a TCG controller update doesn't). */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/base/bus.h"
#include "runtime/base/device.h"
#include "runtime/base/irq.h"

#define SERIAL_NR_PORTS 8
#define SERIAL_FIFO_SIZE 64 /* RX FIFO depth; the guest only sees trigger levels */

struct serial;
struct outbuf;

struct serial_stats {
	uint64_t out_bytes;    /* THR bytes written to out_fd or queued for it */
	uint64_t out_dropped;  /* THR bytes lost: the output buffer full, out_fd failing */
	uint64_t in_bytes;     /* bytes accepted by serial_receive */
	uint64_t missed_reads; /* guest reads of RBR with the FIFO empty */
};

/* Register state for snapshots: fixed-width fields, no padding. The RX
 * FIFO is stored oldest byte first. IIR is not stored: it is derived. */
#define SERIAL_STATE_VERSION 1
struct serial_state {
	uint32_t version;
	uint8_t dll, dlm, ier, fcr; /* fcr: FIFO enable + trigger bits only */
	uint8_t lcr, mcr, lsr, msr; /* lsr: error bits only (OE) */
	uint8_t scr;
	uint8_t thr_ipending;       /* THRE interrupt armed, 0 or 1 */
	uint8_t irq_level;          /* level last driven on the line, 0 or 1 */
	uint8_t reserved;           /* must be 0 */
	uint32_t rx_count;
	uint8_t rx_fifo[SERIAL_FIFO_SIZE];
};

/* out_fd receives the guest's output; -1 discards it. The fd stays owned by
 * the caller and its flags unchanged (runtime/base/outfd.h). irq is copied.
 * Returns 0 or -errno. */
int serial_create(struct serial **out, const struct irq_line *irq, int out_fd);
/* The output buffer in front of out_fd (NULL without one). THR writes
 * never wait for out_fd: what it does not take at once is queued here, and
 * its owner's event loop drains it (runtime/base/outbuf.h: watch the wake
 * fd, then POLLOUT while outbuf_flush says -EAGAIN). Owned by the device. */
struct outbuf *serial_output(struct serial *s);
/* Claims ports [base, base + 8). Returns 0 or bus_add's error. */
int serial_register(struct serial *s, struct bus *pio, uint16_t base);
/* Bytes the RX FIFO can take now (1 deep while the guest keeps FIFOs off,
 * 0 in loopback). A 0 answer arms the rx-ready callback below. */
size_t serial_rx_space(struct serial *s);
/* Queues host input for the guest; returns the bytes accepted (the rest
 * stays with the caller, like a flow-controlled line). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* cb runs (on a vCPU thread, without the device lock) once the guest has
 * emptied the RX FIFO after the VMM was told there was no room: the VMM
 * can then resume reading its input (e.g. write an eventfd). Set before
 * vCPUs start. cb must not block. */
void serial_set_rx_ready_cb(struct serial *s, void (*cb)(void *ctx), void *ctx);
void serial_get_stats(struct serial *s, struct serial_stats *out);
void serial_save(struct serial *s, struct serial_state *out);
/* Validates every field first; on -EINVAL the device is unchanged. The
 * interrupt line is not driven: the irqchip's own snapshot carries it. */
int serial_restore(struct serial *s, const struct serial_state *in);
void serial_destroy(struct serial *s);

extern const struct bus_ops serial_bus_ops;
/* Counters (Firecracker's "uart" metrics), snapshot state (struct
 * serial_state), destroy. */
extern const struct device_ops serial_device_ops;

#endif
