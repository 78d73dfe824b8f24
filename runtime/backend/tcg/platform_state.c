/* The TCG platform in a snapshot (backend_ops.platform_save/restore): the
 * 8259 pair and the 8254 with port 0x61, and the host's wall-clock time
 * at the save, in this layout (little-endian):
 *
 *   0  magic "TCGP"
 *   4  u16 version (1)
 *   6  u16 header size (16)
 *   8  u16 PIC section size (TCG_PIC_STATE_SIZE, pic.h)
 *  10  u16 PIT section size (TCG_PIT_STATE_SIZE, pit.h)
 *  12  u16 clock section size (8)
 *  14  u16 reserved, zero
 *  16  the PIC section, the PIT section, then the clock section: u64 the
 *      host's CLOCK_REALTIME at the save, in ns since the epoch (< 2^63)
 *
 * A restore is given a file's bytes: every size must be version 1's and
 * the total the buffer's length, and every register must hold a value the
 * chips can have (pic.c, pit.c), before the live state is touched. What
 * follows from the registers (the PIC's INTR output, the next timer
 * interrupt) is recomputed, not stored.
 *
 * The guest's time sources are the TSC (vcpu_restore gives it back as an
 * offset, so it goes on from the saved value) and the PIT (its time base
 * saved as elapsed time). With clock_realtime both move on by the wall
 * time elapsed since the save: the PIT's counting channels here, the TSC
 * by that time at the guest's rate (so vcpu_restore comes first). A clock
 * stepped back counts as no time. A one-shot that would have fired in the
 * gap, or periodic ticks, come as one timer interrupt at once. */
#include "runtime/backend/tcg/tcg.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "runtime/backend/tcg/le.h"
#include "runtime/base/log.h"

#define MAGIC "TCGP"
#define VERSION 1
#define HEADER_SIZE 16
#define CLOCK_SIZE 8
#define PIC_OFF HEADER_SIZE
#define PIT_OFF (PIC_OFF + TCG_PIC_STATE_SIZE)
#define CLOCK_OFF (PIT_OFF + TCG_PIT_STATE_SIZE)
#define TOTAL (CLOCK_OFF + CLOCK_SIZE)
/* 73 years: no real gap is longer, and the PIT's time arithmetic stays
 * far from overflowing with it (pit.h bounds its saved times the same). */
#define ELAPSED_MAX (1LL << 61)

static int64_t realtime_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

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
	le_put16(b + 12, CLOCK_SIZE);
	pthread_mutex_lock(&vm->lock);
	tcg_pic_save(&vm->pic, b + PIC_OFF);
	tcg_pit_save(&vm->pit, tcg_now_ns(), b + PIT_OFF);
	int64_t real = realtime_ns();
	pthread_mutex_unlock(&vm->lock);
	le_put64(b + CLOCK_OFF, real > 0 ? (uint64_t)real : 0);
	return TOTAL;
}

/* The wall time since `saved`, in 0..ELAPSED_MAX. */
static int64_t elapsed_since(uint64_t saved)
{
	int64_t now = realtime_ns();
	if (now <= (int64_t)saved)
		return 0;
	uint64_t d = (uint64_t)now - saved;
	return d > (uint64_t)ELAPSED_MAX ? ELAPSED_MAX : (int64_t)d;
}

int tcg_platform_restore(struct backend_vm *vm, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	if (!buf || len < HEADER_SIZE || memcmp(b, MAGIC, 4) || le_get16(b + 4) != VERSION ||
	    le_get16(b + 6) != HEADER_SIZE || le_get16(b + 8) != TCG_PIC_STATE_SIZE ||
	    le_get16(b + 10) != TCG_PIT_STATE_SIZE || le_get16(b + 12) != CLOCK_SIZE ||
	    le_get16(b + 14) || len != TOTAL)
		return -EINVAL;
	uint64_t saved_real = le_get64(b + CLOCK_OFF);
	if (saved_real > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (vm->clock_realtime && vm->vcpu && !tcg_guest_tsc_khz(vm)) {
		log_err("tcg: clock_realtime: the guest's TSC rate is unknown, so its TSC "
			"cannot move on with the clock");
		return -ENOTSUP;
	}

	struct tcg_pic pic;
	struct tcg_pit pit;
	pthread_mutex_lock(&vm->lock);
	int64_t now = tcg_now_ns();
	if (tcg_pic_load(&pic, b + PIC_OFF) || tcg_pit_load(&pit, b + PIT_OFF, now)) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	int64_t elapsed = vm->clock_realtime ? elapsed_since(saved_real) : 0;
	tcg_pit_advance(&pit, elapsed);
	vm->pic = pic;
	vm->pit = pit;
	/* The first edge after the saved moment: in the gap, it is due now. */
	vm->pit_next = tcg_pit_next_irq(&vm->pit, now - elapsed);
	pthread_cond_signal(&vm->timer_wake);
	tcg_platform_notify_locked(vm);
	pthread_mutex_unlock(&vm->lock);

	if (vm->clock_realtime) {
		if (vm->vcpu)
			tcg_vcpu_tsc_advance(vm->vcpu, (uint64_t)elapsed);
		log_info("tcg: clock_realtime: the guest's clocks moved on by %" PRId64 " ms",
			 elapsed / 1000000);
	}
	return 0;
}
