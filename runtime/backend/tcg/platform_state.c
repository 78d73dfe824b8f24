/* The TCG platform in a snapshot (backend_ops.platform_save/restore): the
 * 8259 pair and the 8254 with port 0x61, in this layout (little-endian):
 *
 *   0  magic "TCGP"
 *   4  u16 version (1)
 *   6  u16 header size (16)
 *   8  u16 PIC section size (TCG_PIC_STATE_SIZE, pic.h)
 *  10  u16 PIT section size (TCG_PIT_STATE_SIZE, pit.h)
 *  12  u32 reserved, zero
 *  16  the PIC section, then the PIT section
 *
 * A restore is given a file's bytes: every size must be version 1's and
 * the total the buffer's length, and every register must hold a value the
 * chips can have (pic.c, pit.c), before the live state is touched. What
 * follows from the registers (the PIC's INTR output, the next timer
 * interrupt) is recomputed, not stored. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <string.h>

#include "runtime/backend/tcg/le.h"

#define MAGIC "TCGP"
#define VERSION 1
#define HEADER_SIZE 16
#define PIC_OFF HEADER_SIZE
#define PIT_OFF (PIC_OFF + TCG_PIC_STATE_SIZE)
#define TOTAL (PIT_OFF + TCG_PIT_STATE_SIZE)

int tcg_platform_save(struct backend_vm *vm, void *buf, size_t len)
{
	uint8_t *b = buf;
	if (!buf || len < TOTAL)
		return -ENOSPC;
	memset(b, 0, TOTAL);
	memcpy(b, MAGIC, 4);
	le_put16(b + 4, VERSION);
	le_put16(b + 6, HEADER_SIZE);
	le_put16(b + 8, TCG_PIC_STATE_SIZE);
	le_put16(b + 10, TCG_PIT_STATE_SIZE);
	pthread_mutex_lock(&vm->lock);
	tcg_pic_save(&vm->pic, b + PIC_OFF);
	tcg_pit_save(&vm->pit, tcg_now_ns(), b + PIT_OFF);
	pthread_mutex_unlock(&vm->lock);
	return TOTAL;
}

int tcg_platform_restore(struct backend_vm *vm, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	if (!buf || len < HEADER_SIZE || memcmp(b, MAGIC, 4) || le_get16(b + 4) != VERSION ||
	    le_get16(b + 6) != HEADER_SIZE || le_get16(b + 8) != TCG_PIC_STATE_SIZE ||
	    le_get16(b + 10) != TCG_PIT_STATE_SIZE || le_get32(b + 12) || len != TOTAL)
		return -EINVAL;

	struct tcg_pic pic;
	struct tcg_pit pit;
	pthread_mutex_lock(&vm->lock);
	int64_t now = tcg_now_ns();
	if (tcg_pic_load(&pic, b + PIC_OFF) || tcg_pit_load(&pit, b + PIT_OFF, now)) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	vm->pic = pic;
	vm->pit = pit;
	vm->pit_next = tcg_pit_next_irq(&vm->pit, now);
	pthread_cond_signal(&vm->timer_wake);
	tcg_platform_notify_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}
