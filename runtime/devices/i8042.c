/* i8042 controller plus just enough of a PS/2 keyboard to answer atkbd.
 * Command and bit names follow drivers/input/serio/i8042.h. Writes are
 * processed at once, so the input buffer is never full (IBF stays 0) and
 * replies appear in the output queue immediately. */
#include "runtime/devices/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"

/* Status register (read at 0x64). */
#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_CMDDAT 0x08 /* last write went to the command port */
#define STR_KEYLOCK 0x10 /* set = keyboard not inhibited */
#define STR_AUXDATA 0x20

/* Command byte ("CTR" in Linux). */
#define CTR_KBDINT 0x01
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

/* Controller commands (written to 0x64). */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3 /* Linux's I8042_CMD_AUX_LOOP */
#define CMD_WRITE_AUX 0xd4

/* Keyboard commands (written to 0x60) and replies. */
#define KBD_SET_LEDS 0xed
#define KBD_ECHO 0xee
#define KBD_SCANSET 0xf0
#define KBD_GET_ID 0xf2
#define KBD_SET_RATE 0xf3
#define KBD_RESET 0xff
#define KBD_ACK 0xfa
#define KBD_BAT_OK 0xaa

struct i8042_byte {
	uint8_t val;
	bool aux;
};

struct i8042 {
	pthread_mutex_t lock;
	struct irq_line irq;
	void (*reset)(void *ctx);
	void *ctx;
	uint8_t ctr;
	uint8_t status_cmd; /* STR_CMDDAT or 0 */
	uint8_t ctl_pending; /* controller command awaiting its data byte */
	uint8_t kbd_pending; /* keyboard command awaiting its parameter */
	uint8_t last;        /* data port reads return it when the queue is empty */
	bool irq_level;
	struct i8042_byte q[I8042_QUEUE];
	unsigned head, count;
	uint64_t dropped;
};

static void i8042_push(struct i8042 *d, uint8_t val, bool aux)
{
	if (d->count == I8042_QUEUE) {
		d->dropped++;
		log_ratelimited(LOG_DEBUG, "i8042: output queue full, byte dropped");
		return;
	}
	d->q[(d->head + d->count) % I8042_QUEUE] = (struct i8042_byte){ val, aux };
	d->count++;
}

/* IRQ 1 follows "a keyboard byte is in the output buffer and CTR.KBDINT":
 * each byte is its own interrupt, and IRQ 1 is edge-triggered, so a byte
 * that replaces a consumed one (fresh) gets a new rising edge. AUX bytes
 * would raise IRQ 12, which this device does not have. */
static void i8042_update_irq(struct i8042 *d, bool fresh)
{
	bool want = d->count && !d->q[d->head].aux && (d->ctr & CTR_KBDINT);
	if (want && d->irq_level && !fresh)
		return;
	if (d->irq_level)
		irq_line_set(&d->irq, false);
	if (want)
		irq_line_set(&d->irq, true);
	d->irq_level = want;
}

static void i8042_kbd_write(struct i8042 *d, uint8_t val)
{
	uint8_t pending = d->kbd_pending;
	d->kbd_pending = 0;
	if (pending) { /* the parameter of 0xED, 0xF0 or 0xF3 */
		i8042_push(d, KBD_ACK, false);
		if (pending == KBD_SCANSET && val == 0)
			i8042_push(d, 2, false); /* "current set": 2 */
		return;
	}
	switch (val) {
	case KBD_SET_LEDS:
	case KBD_SCANSET:
	case KBD_SET_RATE:
		d->kbd_pending = val;
		i8042_push(d, KBD_ACK, false);
		break;
	case KBD_ECHO:
		i8042_push(d, KBD_ECHO, false);
		break;
	case KBD_GET_ID:
		/* MF2 keyboard; the controller translates 0x83 to 0x41. */
		i8042_push(d, KBD_ACK, false);
		i8042_push(d, 0xab, false);
		i8042_push(d, (d->ctr & CTR_XLATE) ? 0x41 : 0x83, false);
		break;
	case KBD_RESET:
		i8042_push(d, KBD_ACK, false);
		i8042_push(d, KBD_BAT_OK, false);
		break;
	default: /* 0xF4 enable, 0xF5 disable, 0xF6 defaults, ...: just ACK */
		i8042_push(d, KBD_ACK, false);
		break;
	}
}

/* Returns true when the CPU reset line was pulsed. */
static bool i8042_data_write(struct i8042 *d, uint8_t val)
{
	uint8_t cmd = d->ctl_pending;
	d->ctl_pending = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		d->ctr = val;
		return false;
	case CMD_WRITE_OUTPORT:
		return !(val & 0x01); /* output port bit 0 drives the reset line, active low */
	case CMD_WRITE_KBD_OBUF:
		i8042_push(d, val, false);
		return false;
	case CMD_WRITE_AUX_OBUF:
		i8042_push(d, val, true);
		return false;
	case CMD_WRITE_AUX:
		return false; /* no mouse behind the AUX port */
	default:
		i8042_kbd_write(d, val);
		return false;
	}
}

static bool i8042_command(struct i8042 *d, uint8_t cmd)
{
	d->ctl_pending = 0;
	switch (cmd) {
	case CMD_READ_CTR:
		i8042_push(d, d->ctr, false);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		d->ctl_pending = cmd;
		break;
	case CMD_AUX_DISABLE:
		d->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		d->ctr &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_SELF_TEST:
		i8042_push(d, 0x55, false);
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		i8042_push(d, 0x00, false); /* interface OK */
		break;
	case CMD_KBD_DISABLE:
		d->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		d->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	default:
		/* 0xF0-0xFF pulse output port lines whose bit is clear in the
		 * low nibble; bit 0 is the reset line, so 0xFE resets. */
		if ((cmd & 0xf0) == 0xf0)
			return !(cmd & 0x01);
		log_ratelimited(LOG_DEBUG, "i8042: ignored command 0x%02x", cmd);
		break;
	}
	return false;
}

/* Port 0x60: read pops the output queue; write is data for a pending
 * controller command, or else a byte for the keyboard. */
static void i8042_data_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *d = opaque;
	memset(data, 0, len);
	if (len != 1 || offset != 0)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->count) {
		d->last = d->q[d->head].val;
		d->head = (d->head + 1) % I8042_QUEUE;
		d->count--;
	}
	*(uint8_t *)data = d->last; /* an empty buffer reads stale, as hardware */
	i8042_update_irq(d, true);
	pthread_mutex_unlock(&d->lock);
}

/* Port 0x64: read is the status register; write is a controller command. */
static void i8042_cmd_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *d = opaque;
	memset(data, 0, len);
	if (len != 1 || offset != 0)
		return;
	pthread_mutex_lock(&d->lock);
	uint8_t st = STR_KEYLOCK | d->status_cmd | (d->ctr & CTR_SYS ? STR_SYS : 0);
	if (d->count)
		st |= STR_OBF | (d->q[d->head].aux ? STR_AUXDATA : 0);
	*(uint8_t *)data = st;
	pthread_mutex_unlock(&d->lock);
}

static void i8042_write(struct i8042 *d, const void *data, uint32_t len, bool cmd)
{
	if (len != 1) {
		log_ratelimited(LOG_DEBUG, "i8042: ignored %u-byte write", len);
		return;
	}
	uint8_t val = *(const uint8_t *)data;
	pthread_mutex_lock(&d->lock);
	bool had = d->count != 0;
	d->status_cmd = cmd ? STR_CMDDAT : 0;
	bool reset = cmd ? i8042_command(d, val) : i8042_data_write(d, val);
	i8042_update_irq(d, !had);
	pthread_mutex_unlock(&d->lock);
	if (reset && d->reset)
		d->reset(d->ctx);
}

static void i8042_data_write_op(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	if (offset == 0)
		i8042_write(opaque, data, len, false);
}

static void i8042_cmd_write_op(void *opaque, uint64_t offset, const void *data, uint32_t len)
{
	if (offset == 0)
		i8042_write(opaque, data, len, true);
}

const struct bus_ops i8042_data_ops = { .read = i8042_data_read, .write = i8042_data_write_op };
const struct bus_ops i8042_cmd_ops = { .read = i8042_cmd_read, .write = i8042_cmd_write_op };

int i8042_create(struct i8042 **out, const struct irq_line *irq, void (*reset)(void *ctx),
		 void *ctx)
{
	struct i8042 *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int err = pthread_mutex_init(&d->lock, NULL);
	if (err) {
		free(d);
		return -err;
	}
	if (irq)
		d->irq = *irq;
	d->reset = reset;
	d->ctx = ctx;
	/* Power-on self test passed (SYS), keyboard interrupt on, no
	 * translation: Firecracker's defaults, so atkbd talks set 2. */
	d->ctr = CTR_KBDINT | CTR_SYS;
	*out = d;
	return 0;
}

int i8042_register(struct i8042 *dev, struct bus *pio)
{
	int err = bus_add(pio, I8042_DATA_PORT, 1, &i8042_data_ops, dev, "i8042-data");
	if (err)
		return err;
	return bus_add(pio, I8042_CMD_PORT, 1, &i8042_cmd_ops, dev, "i8042-cmd");
}

int i8042_send_ctrl_alt_del(struct i8042 *dev)
{
	/* Make codes for LCtrl, LAlt, Delete, then the breaks in reverse. */
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	pthread_mutex_lock(&dev->lock);
	bool xlate = dev->ctr & CTR_XLATE;
	const uint8_t *seq = xlate ? set1 : set2;
	unsigned n = xlate ? sizeof(set1) : sizeof(set2);
	if (I8042_QUEUE - dev->count < n) {
		pthread_mutex_unlock(&dev->lock);
		return -ENOSPC;
	}
	bool had = dev->count != 0;
	for (unsigned i = 0; i < n; i++)
		i8042_push(dev, seq[i], false);
	i8042_update_irq(dev, !had);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

uint64_t i8042_dropped(struct i8042 *dev)
{
	pthread_mutex_lock(&dev->lock);
	uint64_t n = dev->dropped;
	pthread_mutex_unlock(&dev->lock);
	return n;
}

void i8042_destroy(struct i8042 *dev)
{
	if (!dev)
		return;
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

_Static_assert(sizeof(struct i8042_state) == 16 + I8042_QUEUE,
	       "i8042_state must have no padding");

void i8042_save(struct i8042 *dev, struct i8042_state *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&dev->lock);
	out->version = I8042_STATE_VERSION;
	out->ctr = dev->ctr;
	out->status_cmd = dev->status_cmd;
	out->ctl_pending = dev->ctl_pending;
	out->kbd_pending = dev->kbd_pending;
	out->last = dev->last;
	out->irq_level = dev->irq_level;
	out->count = (uint8_t)dev->count;
	for (unsigned i = 0; i < dev->count; i++) {
		const struct i8042_byte *b = &dev->q[(dev->head + i) % I8042_QUEUE];
		out->queue[i] = b->val;
		if (b->aux)
			out->queue_aux |= (uint16_t)(1u << i);
	}
	pthread_mutex_unlock(&dev->lock);
}

/* The values the write paths can leave behind. */
static bool i8042_ctl_pending_ok(uint8_t c)
{
	return c == 0 || c == CMD_WRITE_CTR || c == CMD_WRITE_OUTPORT ||
	       c == CMD_WRITE_KBD_OBUF || c == CMD_WRITE_AUX_OBUF || c == CMD_WRITE_AUX;
}

static bool i8042_kbd_pending_ok(uint8_t c)
{
	return c == 0 || c == KBD_SET_LEDS || c == KBD_SCANSET || c == KBD_SET_RATE;
}

int i8042_restore(struct i8042 *dev, const struct i8042_state *in)
{
	/* Hostile input: only a state the device itself could be in. */
	if (in->version != I8042_STATE_VERSION ||
	    (in->status_cmd != 0 && in->status_cmd != STR_CMDDAT) ||
	    !i8042_ctl_pending_ok(in->ctl_pending) || !i8042_kbd_pending_ok(in->kbd_pending) ||
	    in->irq_level > 1 || in->count > I8042_QUEUE || in->reserved || in->reserved2)
		return -EINVAL;
	for (unsigned i = in->count; i < I8042_QUEUE; i++)
		if (in->queue[i])
			return -EINVAL;
	if (in->count < I8042_QUEUE && (in->queue_aux >> in->count))
		return -EINVAL;
	/* The line always follows i8042_update_irq's rule. */
	bool want = in->count && !(in->queue_aux & 1) && (in->ctr & CTR_KBDINT);
	if (want != (in->irq_level != 0))
		return -EINVAL;

	pthread_mutex_lock(&dev->lock);
	dev->ctr = in->ctr;
	dev->status_cmd = in->status_cmd;
	dev->ctl_pending = in->ctl_pending;
	dev->kbd_pending = in->kbd_pending;
	dev->last = in->last;
	dev->irq_level = in->irq_level;
	dev->head = 0;
	dev->count = in->count;
	for (unsigned i = 0; i < in->count; i++)
		dev->q[i] = (struct i8042_byte){ in->queue[i], (in->queue_aux >> i) & 1 };
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static void i8042_counters(void *dev, device_counter_fn fn, void *ctx)
{
	fn(ctx, "dropped_bytes", dev ? i8042_dropped(dev) : 0);
}

static void i8042_dev_destroy(void *dev)
{
	i8042_destroy(dev);
}

static int i8042_dev_save(void *dev, void *buf, size_t len)
{
	struct i8042_state st;
	if (len < sizeof(st))
		return -ENOSPC;
	i8042_save(dev, &st);
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int i8042_dev_restore(void *dev, const void *buf, size_t len)
{
	struct i8042_state st; /* buf need not be aligned */
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	return i8042_restore(dev, &st);
}

const struct device_ops i8042_device_ops = {
	.counters = i8042_counters,
	.save = i8042_dev_save,
	.restore = i8042_dev_restore,
	.destroy = i8042_dev_destroy,
};
