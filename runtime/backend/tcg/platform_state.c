/* The TCG platform in a snapshot (backend_ops.platform_save/restore): the
 * 8259 pair and the 8254 with port 0x61, the host's wall-clock time at the
 * save, and the I/O APIC, in this layout (little-endian):
 *
 *   0  magic "TCGP"
 *   4  u16 version (2)
 *   6  u16 header size (16)
 *   8  u16 PIC section size (TCG_PIC_STATE_SIZE, pic.h)
 *  10  u16 PIT section size (TCG_PIT_STATE_SIZE, pit.h)
 *  12  u16 clock section size (8)
 *  14  u16 I/O APIC section size (TCG_IOAPIC_STATE_SIZE, ioapic.h)
 *  16  the PIC section, the PIT section, the clock section: u64 the
 *      host's CLOCK_REALTIME at the save, in ns since the epoch (< 2^63),
 *      then the I/O APIC section
 *
 * Version 1 (before the software CPU had APICs) has no I/O APIC section
 * and 0 at offset 14; it restores with the I/O APIC at power-on (every pin
 * masked), as its guest never used one. The local APICs are the vCPUs'
 * (state.c).
 *
 * A restore is given a file's bytes: every size must be its version's and
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
#include "runtime/backend/tcg/platform_neutral.h"
#include "runtime/base/log.h"

#define MAGIC "TCGP"
#define VERSION 2
#define HEADER_SIZE 16
#define CLOCK_SIZE 8
#define PIC_OFF HEADER_SIZE
#define PIT_OFF (PIC_OFF + TCG_PIC_STATE_SIZE)
#define CLOCK_OFF (PIT_OFF + TCG_PIT_STATE_SIZE)
#define IOAPIC_OFF (CLOCK_OFF + CLOCK_SIZE)
#define TOTAL_V1 IOAPIC_OFF
#define TOTAL (IOAPIC_OFF + TCG_IOAPIC_STATE_SIZE)
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
	le_put16(b + 14, TCG_IOAPIC_STATE_SIZE);
	pthread_mutex_lock(&vm->lock);
	tcg_pic_save(&vm->pic, b + PIC_OFF);
	tcg_ioapic_save(&vm->ioapic, b + IOAPIC_OFF);
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

/* The restored chips into the VM, under vm->lock; with clock_realtime the
 * PIT moves on by the wall time since the save. */
static void install_locked(struct backend_vm *vm, const struct tcg_pic *pic,
			   const struct tcg_pit *pit, const struct tcg_ioapic *ioapic, int64_t now,
			   int64_t elapsed)
{
	vm->pic = *pic;
	vm->pit = *pit;
	tcg_pit_advance(&vm->pit, elapsed);
	vm->ioapic = *ioapic;
	/* The first edge after the saved moment: in the gap, it is due now. */
	vm->pit_next = tcg_pit_next_irq(&vm->pit, now - elapsed);
	pthread_cond_signal(&vm->timer_wake);
	tcg_platform_notify_locked(vm);
}

/* Then, outside the lock, the TSCs by the same time at the guest's rate. */
static void advance_tscs(struct backend_vm *vm, int64_t elapsed)
{
	if (!vm->clock_realtime)
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		tcg_vcpu_tsc_advance(vm->vcpus[i], (uint64_t)elapsed);
	log_info("tcg: clock_realtime: the guest's clocks moved on by %" PRId64 " ms",
		 elapsed / 1000000);
}

int tcg_platform_restore(struct backend_vm *vm, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	if (!buf || len < HEADER_SIZE || memcmp(b, MAGIC, 4))
		return -EINVAL;
	unsigned version = le_get16(b + 4);
	bool v1 = version == 1;
	if ((!v1 && version != VERSION) || le_get16(b + 6) != HEADER_SIZE ||
	    le_get16(b + 8) != TCG_PIC_STATE_SIZE || le_get16(b + 10) != TCG_PIT_STATE_SIZE ||
	    le_get16(b + 12) != CLOCK_SIZE ||
	    le_get16(b + 14) != (v1 ? 0 : TCG_IOAPIC_STATE_SIZE) || len != (v1 ? TOTAL_V1 : TOTAL))
		return -EINVAL;
	uint64_t saved_real = le_get64(b + CLOCK_OFF);
	if (saved_real > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (vm->clock_realtime && vm->nr_vcpus && !tcg_guest_tsc_khz(vm)) {
		log_err("tcg: clock_realtime: the guest's TSC rate is unknown, so its TSC "
			"cannot move on with the clock");
		return -ENOTSUP;
	}

	struct tcg_pic pic;
	struct tcg_pit pit;
	pthread_mutex_lock(&vm->lock);
	struct tcg_ioapic ioapic = vm->ioapic;
	if (v1)
		tcg_ioapic_init(&ioapic, vm->nr_lapics, ioapic.send, ioapic.send_ctx);
	int64_t now = tcg_now_ns();
	if (tcg_pic_load(&pic, b + PIC_OFF) || tcg_pit_load(&pit, b + PIT_OFF, now) ||
	    (!v1 && tcg_ioapic_load(&ioapic, b + IOAPIC_OFF))) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	int64_t elapsed = vm->clock_realtime ? elapsed_since(saved_real) : 0;
	install_locked(vm, &pic, &pit, &ioapic, now, elapsed);
	pthread_mutex_unlock(&vm->lock);
	advance_tscs(vm, elapsed);
	return 0;
}

int tcg_platform_get(struct backend_vm *vm, struct x86_platform *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_lock(&vm->lock);
	tcg_platform_to_neutral(&vm->pic, &vm->pit, &vm->ioapic, tcg_now_ns(), p);
	int64_t real = realtime_ns();
	pthread_mutex_unlock(&vm->lock);
	p->realtime_ns = real > 0 ? (uint64_t)real : 0;
	return 0;
}

/* A KVM clock in the state is the guest's kvmclock, which this CPU does
 * not offer: a guest that enabled it is refused with its MSR (vCPU
 * state), so here it is only the source's bookkeeping. */
int tcg_platform_set(struct backend_vm *vm, const struct x86_platform *p, struct errbuf *err)
{
	if (vm->clock_realtime && vm->nr_vcpus && !tcg_guest_tsc_khz(vm))
		return err_set(err, -ENOTSUP, "clock_realtime: the guest's TSC rate is unknown, so "
					      "its TSC cannot move on with the clock");
	if (p->realtime_ns > (uint64_t)INT64_MAX)
		return err_set(err, -EINVAL, "vm/platform: wall-clock time out of range");
	struct tcg_pic pic;
	struct tcg_pit pit;
	pthread_mutex_lock(&vm->lock);
	struct tcg_ioapic ioapic = vm->ioapic;
	int64_t now = tcg_now_ns();
	int r = tcg_platform_from_neutral(p, now, &pic, &pit, &ioapic, err);
	int64_t elapsed = vm->clock_realtime ? elapsed_since(p->realtime_ns) : 0;
	if (r == 0)
		install_locked(vm, &pic, &pit, &ioapic, now, elapsed);
	pthread_mutex_unlock(&vm->lock);
	if (r == 0)
		advance_tscs(vm, elapsed);
	return r;
}
