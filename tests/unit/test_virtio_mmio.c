/* virtio/mmio.c: registers, status state machine, feature negotiation,
 * queue set-up window, interrupts, config space, and the hand-off of
 * activation/reset/notifications to the VMM thread (the hub). */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/test_virtio_util.h"
#include "virtio/mmio.h"

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define FEAT_TEST VIRTIO_BIT(3) /* a device-specific bit we offer */
#define FEAT_OFFERED (VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX | FEAT_TEST)

/* A device that copies what it reads into what it may write. */
struct tdev {
	struct virtio_dev vd;
	uint8_t config[10];
	int activates, resets, notifies;
	int fail_activate;
	bool destroyed;
};

static int tdev_activate(struct virtio_dev *vd)
{
	struct tdev *d = (struct tdev *)vd;
	d->activates++;
	return d->fail_activate;
}

static void tdev_reset(struct virtio_dev *vd)
{
	((struct tdev *)vd)->resets++;
}

static void tdev_notify(struct virtio_dev *vd, unsigned qi)
{
	struct tdev *d = (struct tdev *)vd;
	struct virtq *vq = &vd->vqs[qi];
	static struct virtq_chain c;
	d->notifies++;
	do {
		while (virtq_pop(vq, &c) == 1) {
			uint32_t n = c.out_len < c.in_len ? c.out_len : c.in_len;
			if (n)
				memcpy(c.iov[c.nr_out].iov_base, c.iov[0].iov_base,
				       n < c.iov[0].iov_len ? n : c.iov[0].iov_len);
			virtq_push(vq, c.head, n);
		}
	} while (virtq_enable_notify(vq));
	virtio_dev_signal_used(vd, qi);
}

static void tdev_destroy(struct virtio_dev *vd)
{
	((struct tdev *)vd)->destroyed = true;
}

/* No state of its own (test_virtio_mmio_state.c has a device with some). */
static int tdev_save(struct virtio_dev *vd, void *buf, size_t len)
{
	(void)vd;
	(void)buf;
	(void)len;
	return 0;
}

static int tdev_restore(struct virtio_dev *vd, const void *buf, size_t len)
{
	(void)vd;
	(void)buf;
	return len ? -EINVAL : 0;
}

static const struct virtio_dev_ops tdev_ops = {
	.activate = tdev_activate,
	.reset = tdev_reset,
	.queue_notify = tdev_notify,
	.save = tdev_save,
	.restore = tdev_restore,
	.destroy = tdev_destroy,
};

static struct tguest g;
static struct vhub hub;
static struct tdev dev;
static struct tirq irq;
static struct virtio_mmio *t;

static void setup(void)
{
	tguest_init(&g);
	tq_init(&g, 0, 16);
	tq_init(&g, 1, 16);
	cr_assert_eq(vhub_init(&hub), 0);
	memset(&dev, 0, sizeof(dev));
	memset(&irq, 0, sizeof(irq));
	for (unsigned i = 0; i < sizeof(dev.config); i++)
		dev.config[i] = (uint8_t)(0x10 + i);
	dev.vd = (struct virtio_dev){
		.name = "test", .device_id = 42, .ops = &tdev_ops, .features = FEAT_OFFERED,
		.nr_queues = 2, .queue_max = 64, .config = dev.config,
		.config_len = sizeof(dev.config),
	};
	struct virtio_mmio_opts o = {
		.base = 0xd0000000ULL, .irq = { tirq_set, &irq, 5 }, .hub = &hub, .mem = &g.mem,
	};
	cr_assert_eq(virtio_mmio_create(&dev.vd, &o, &t), 0);
}

static void teardown(void)
{
	virtio_mmio_destroy(t);
	cr_expect(dev.destroyed);
	vhub_destroy(&hub);
	tguest_free(&g);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown);

static uint32_t status(void)
{
	return tmmio_rd(t, VIRTIO_MMIO_STATUS);
}

Test(virtio_mmio, identity_registers)
{
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_VERSION), 2);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_DEVICE_ID), 42);
	tmmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)FEAT_OFFERED);
	tmmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 */
	tmmio_wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
}

Test(virtio_mmio, narrow_or_misaligned_register_access_refused)
{
	uint16_t v = 0xffff;
	virtio_mmio_read(t, VIRTIO_MMIO_MAGIC_VALUE, &v, 2);
	cr_expect_eq(v, 0);
	uint32_t w = 0;
	virtio_mmio_read(t, VIRTIO_MMIO_MAGIC_VALUE + 1, &w, 4);
	cr_expect_eq(w, 0);
	uint8_t b = S_ACK;
	virtio_mmio_write(t, VIRTIO_MMIO_STATUS, &b, 1);
	cr_expect_eq(status(), 0);
}

Test(virtio_mmio, full_init_activates_on_vmm_thread)
{
	uint32_t st = tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1 | FEAT_TEST);
	cr_expect_eq(st, S_ACK | S_DRV | S_FOK | S_DOK);
	cr_expect_eq(dev.activates, 0); /* not on the vCPU thread */
	thub_pump(&hub);
	cr_expect_eq(dev.activates, 1);
	cr_expect_eq(dev.vd.acked, VIRTIO_FEAT_VERSION_1 | FEAT_TEST);
	cr_expect(dev.vd.vqs[0].live);
	cr_expect_eq(dev.vd.stats.activations, 1);
	/* Right after activation every queue is looked at once. */
	cr_expect_eq(dev.notifies, 2);
}

Test(virtio_mmio, notification_through_bus_write_processes_queue)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	thub_pump(&hub);
	struct tq *q = &g.q[1];
	uint64_t in = tguest_alloc(&g, 8), out = tguest_alloc(&g, 8);
	memcpy(tguest_ptr(&g, in, 8), "abcdefgh", 8);
	tq_desc(q, 0, in, 8, VRING_DESC_F_NEXT, 1);
	tq_desc(q, 1, out, 8, VRING_DESC_F_WRITE, 0);
	tq_post(q, 0);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	thub_pump(&hub);
	uint32_t id, len;
	cr_assert(tq_used(q, &id, &len));
	cr_expect_eq(len, 8);
	cr_expect_eq(memcmp(tguest_ptr(&g, out, 8), "abcdefgh", 8), 0);
	/* Interrupt: line up, status says used ring; ack lowers it. */
	cr_expect(irq.level);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	tmmio_wr(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_expect_not(irq.level);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_expect_eq(dev.vd.stats.interrupts, 1);
}

Test(virtio_mmio, notify_of_missing_queue_ignored)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	thub_pump(&hub);
	int before = dev.notifies;
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	thub_pump(&hub);
	cr_expect_eq(dev.notifies, before);
}

Test(virtio_mmio, notify_before_driver_ok_does_nothing)
{
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	thub_pump(&hub);
	cr_expect_eq(dev.notifies, 0);
}

Test(virtio_mmio, status_out_of_order_refused)
{
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_DRV);
	cr_expect_eq(status(), 0);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DOK);
	cr_expect_eq(status(), 0);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	cr_expect_eq(status(), S_ACK);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_FOK);
	cr_expect_eq(status(), S_ACK);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	/* DRIVER_OK before FEATURES_OK was accepted. */
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_DOK);
	cr_expect_eq(status(), S_ACK | S_DRV);
	/* Clearing bits is not a transition (only 0 resets). */
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_DRV);
	cr_expect_eq(status(), S_ACK | S_DRV);
	/* NEEDS_RESET and unknown bits are not the driver's to set. */
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_expect_eq(status(), S_ACK | S_DRV);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | 0x10);
	cr_expect_eq(status(), S_ACK | S_DRV);
	thub_pump(&hub);
	cr_expect_eq(dev.activates, 0);
}

Test(virtio_mmio, failed_is_terminal_until_reset)
{
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | VIRTIO_CONFIG_S_FAILED);
	cr_expect_eq(status(), S_ACK | VIRTIO_CONFIG_S_FAILED);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | VIRTIO_CONFIG_S_FAILED);
	cr_expect_eq(status(), S_ACK | VIRTIO_CONFIG_S_FAILED);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	cr_expect_eq(status(), 0);
}

Test(virtio_mmio, unoffered_feature_ack_refuses_features_ok)
{
	uint32_t st = tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1 | VIRTIO_BIT(5));
	cr_expect_eq(st, S_ACK | S_DRV);
	/* And the bit never made it into the acked set. */
	cr_expect_eq(t->drv_features & VIRTIO_BIT(5), 0);
}

Test(virtio_mmio, unoffered_high_page_ack_refused)
{
	uint32_t st = tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1 | VIRTIO_BIT(40));
	cr_expect_eq(st, S_ACK | S_DRV);
}

Test(virtio_mmio, version_1_required)
{
	uint32_t st = tmmio_init(t, &g, FEAT_TEST);
	cr_expect_eq(st, S_ACK | S_DRV);
}

Test(virtio_mmio, feature_ack_outside_window_ignored)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)FEAT_TEST);
	cr_expect_eq(t->drv_features, VIRTIO_FEAT_VERSION_1);
}

Test(virtio_mmio, queue_config_after_driver_ok_refused)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	thub_pump(&hub);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1234000);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, 8);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)g.q[0].desc);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_QUEUE_NUM), 16);
	cr_expect_eq(dev.vd.vqs[0].cfg.desc, g.q[0].desc);
}

Test(virtio_mmio, queue_config_before_features_ok_refused)
{
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
}

/* Writes one queue register set through the transport, then DRIVER_OK. */
static uint32_t init_with_queue0(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	g.q[0].size = 0; /* tmmio_init skips queues with size 0 */
	g.q[1].size = 0;
	tmmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tmmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, size);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	thub_pump(&hub);
	return status();
}

static void expect_activation_refused(uint32_t st)
{
	cr_expect(st & VIRTIO_CONFIG_S_NEEDS_RESET, "status 0x%x", st);
	cr_expect_eq(dev.activates, 0);
	cr_expect(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_expect(irq.level);
	cr_expect_not(dev.vd.vqs[0].live);
}

Test(virtio_mmio, queue_size_not_power_of_two_fails_activation)
{
	expect_activation_refused(init_with_queue0(12, 0x10000, 0x14000, 0x18000));
}

Test(virtio_mmio, queue_size_above_max_fails_activation)
{
	expect_activation_refused(init_with_queue0(128, 0x10000, 0x14000, 0x18000));
}

Test(virtio_mmio, queue_size_too_big_for_register)
{
	expect_activation_refused(init_with_queue0(0, 0x10000, 0x14000, 0x18000));
}

Test(virtio_mmio, misaligned_ring_fails_activation)
{
	expect_activation_refused(init_with_queue0(16, 0x10008, 0x14000, 0x18000));
}

Test(virtio_mmio, ring_outside_memory_fails_activation)
{
	expect_activation_refused(init_with_queue0(16, 0x10000, 0x14000, 0x1ff000000ULL));
}

Test(virtio_mmio, good_queue0_via_registers)
{
	uint32_t st = init_with_queue0(16, 0x10000, 0x14000, 0x18000);
	cr_expect_eq(st, S_ACK | S_DRV | S_FOK | S_DOK);
	cr_expect_eq(dev.activates, 1);
	cr_expect_not(dev.vd.vqs[1].live);
}

Test(virtio_mmio, device_activate_failure_needs_reset)
{
	dev.fail_activate = -EIO;
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	thub_pump(&hub);
	cr_expect_eq(dev.activates, 1);
	cr_expect(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_expect(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_expect_eq(dev.vd.stats.activate_fails, 1);
	/* The device stays dead until reset. */
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	thub_pump(&hub);
	cr_expect_eq(dev.notifies, 0);
	/* After a reset it can come up again. */
	dev.fail_activate = 0;
	cr_expect_eq(tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	thub_pump(&hub);
	cr_expect_eq(dev.activates, 2);
	cr_expect_eq(dev.resets, 0); /* never active, so nothing to undo */
}

Test(virtio_mmio, reset_stops_queues_synchronously)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	thub_pump(&hub);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	/* Before the VMM thread ran: queues already dead, registers clear. */
	cr_expect_not(dev.vd.vqs[0].live);
	cr_expect_eq(status(), 0);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	thub_pump(&hub);
	cr_expect_eq(dev.resets, 1);
	/* Linux writes QueueReady=0 after the reset: harmless. */
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 0);
	/* Reset then re-init before the VMM thread looks: reset, then activate. */
	cr_expect_eq(tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	cr_expect_eq(tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	thub_pump(&hub);
	cr_expect_eq(dev.activates, 2);
	cr_expect_eq(dev.resets, 1);
}

Test(virtio_mmio, activate_then_reset_before_vmm_thread_never_activates)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	thub_pump(&hub);
	cr_expect_eq(dev.activates, 0);
	cr_expect_eq(dev.resets, 0);
}

Test(virtio_mmio, config_space_reads_and_bounds)
{
	uint8_t b;
	virtio_mmio_read(t, 0x100, &b, 1);
	cr_expect_eq(b, 0x10);
	uint16_t h;
	virtio_mmio_read(t, 0x108, &h, 2);
	cr_expect_eq(h, 0x1918);
	uint32_t w = 0xdeadbeef;
	virtio_mmio_read(t, 0x108, &w, 4); /* straddles the end */
	cr_expect_eq(w, 0);
	uint64_t q = 1;
	virtio_mmio_read(t, 0x100 + 0xef8, &q, 8);
	cr_expect_eq(q, 0);
	virtio_mmio_read(t, 0x100 + 0xfffffffffffULL, &w, 4);
	cr_expect_eq(w, 0);
	/* Config writes are refused. */
	uint8_t nb = 0xff;
	virtio_mmio_write(t, 0x100, &nb, 1);
	virtio_mmio_read(t, 0x100, &b, 1);
	cr_expect_eq(b, 0x10);
}

Test(virtio_mmio, config_change_bumps_generation_and_interrupts)
{
	uint32_t gen = tmmio_rd(t, VIRTIO_MMIO_CONFIG_GENERATION);
	uint8_t nc[4] = { 1, 2, 3, 4 };
	virtio_dev_config_changed(&dev.vd, nc, sizeof(nc));
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	cr_expect(irq.level);
	uint32_t w;
	virtio_mmio_read(t, 0x100, &w, 4);
	cr_expect_eq(w, 0x04030201);
	virtio_mmio_read(t, 0x104, &w, 4);
	cr_expect_eq(w, 0); /* the config shrank to 4 bytes */
}

Test(virtio_mmio, partial_ack_keeps_line_up)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	thub_pump(&hub);
	uint8_t nc[1] = { 0 };
	virtio_dev_config_changed(&dev.vd, nc, 1);
	struct tq *q = &g.q[0];
	uint64_t b = tguest_alloc(&g, 4);
	tq_desc(q, 0, b, 4, VRING_DESC_F_WRITE, 0);
	tq_post(q, 0);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	thub_pump(&hub);
	cr_expect_eq(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 3);
	tmmio_wr(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	cr_expect(irq.level);
	tmmio_wr(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_expect_not(irq.level);
}

Test(virtio_mmio, broken_ring_marks_needs_reset)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	thub_pump(&hub);
	tmmio_wr(t, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	tq_set_avail_idx(&g.q[0], 100);
	tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	thub_pump(&hub);
	cr_expect(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_expect(tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	/* Nothing will drain the device's host fds now: it let go of them
	 * at once, not at the driver's reset. */
	cr_expect_eq(dev.resets, 1);
	/* The only way on is a reset: writing the status back without
	 * NEEDS_RESET does not clear it, adding FAILED keeps it. */
	tmmio_wr(t, VIRTIO_MMIO_STATUS, status() | S_DOK);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	cr_expect_eq(status(), S_ACK | S_DRV | S_FOK | S_DOK | VIRTIO_CONFIG_S_NEEDS_RESET);
	tmmio_wr(t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK | VIRTIO_CONFIG_S_FAILED);
	cr_expect_eq(status(), S_ACK | S_DRV | S_FOK | S_DOK | VIRTIO_CONFIG_S_FAILED |
				       VIRTIO_CONFIG_S_NEEDS_RESET);
	tq_set_avail_idx(&g.q[0], 0);
	cr_expect_eq(tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	thub_pump(&hub);
	cr_expect_eq(dev.activates, 2);
	cr_expect_eq(dev.resets, 1, "reset once, not again at the driver's reset");
	cr_expect_eq(dev.vd.stats.resets, 1);
}

Test(virtio_mmio, event_idx_negotiated_reaches_queue)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX);
	thub_pump(&hub);
	cr_expect(dev.vd.vqs[0].event_idx);
	cr_expect_not(dev.vd.vqs[0].indirect);
}

Test(virtio_mmio, save_state)
{
	tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1);
	uint8_t buf[sizeof(struct virtio_mmio_state) + sizeof(dev.config)];
	cr_assert_eq(virtio_mmio_save(t, buf, sizeof(buf)), (int)sizeof(buf));
	struct virtio_mmio_state st;
	memcpy(&st, buf, sizeof(st));
	cr_expect_eq(st.version, VIRTIO_MMIO_STATE_VERSION);
	cr_expect_eq(st.status, S_ACK | S_DRV | S_FOK | S_DOK);
	cr_expect_eq(st.queues[1].desc, g.q[1].desc);
	cr_expect_eq(st.config_len, sizeof(dev.config));
	cr_expect_eq(memcmp(buf + sizeof(st), dev.config, sizeof(dev.config)), 0);
	cr_expect_eq(st.dev_len, 0);
	cr_expect_eq(virtio_mmio_save(t, buf, sizeof(buf) - 1), -ENOSPC);
}

Test(virtio_mmio, bus_registration)
{
	struct bus b;
	bus_init(&b, "mmio");
	cr_assert_eq(virtio_mmio_register(t, &b), 0);
	uint32_t v;
	cr_expect_eq(bus_read(&b, 0xd0000000ULL, &v, 4), 0);
	cr_expect_eq(v, 0x74726976);
	bus_destroy(&b);
}

Test(virtio_mmio, create_refuses_bad_devices)
{
	struct tdev d2 = dev;
	struct virtio_mmio *t2;
	struct virtio_mmio_opts o = { .base = 0xd0001000ULL, .hub = &hub, .mem = &g.mem };
	d2.vd.features = FEAT_TEST; /* no VERSION_1 */
	cr_expect_eq(virtio_mmio_create(&d2.vd, &o, &t2), -EINVAL);
	d2.vd.features = FEAT_OFFERED;
	d2.vd.queue_max = 512;
	cr_expect_eq(virtio_mmio_create(&d2.vd, &o, &t2), -EINVAL);
	d2.vd.queue_max = 64;
	d2.vd.nr_queues = VIRTIO_MAX_QUEUES + 1;
	cr_expect_eq(virtio_mmio_create(&d2.vd, &o, &t2), -EINVAL);
	/* Every device must carry its snapshot state. */
	struct virtio_dev_ops no_save = tdev_ops;
	no_save.save = NULL;
	d2.vd.nr_queues = 2;
	d2.vd.ops = &no_save;
	cr_expect_eq(virtio_mmio_create(&d2.vd, &o, &t2), -EINVAL);
	no_save.save = tdev_save;
	no_save.restore = NULL;
	cr_expect_eq(virtio_mmio_create(&d2.vd, &o, &t2), -EINVAL);
}

/* A vCPU thread initialising, kicking and resetting the device while the
 * VMM thread runs the hub: no deadlock, no crash, and after each reset
 * write returns, the device no longer writes the used ring. */
static atomic_bool vmm_stop;

static void *vmm_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&vmm_stop))
		vhub_run(&hub, 1);
	return NULL;
}

Test(virtio_mmio, concurrent_vcpu_and_vmm_threads)
{
	pthread_t th;
	atomic_store(&vmm_stop, false);
	cr_assert_eq(pthread_create(&th, NULL, vmm_thread, NULL), 0);
	struct tq *q = &g.q[0];
	uint64_t buf = tguest_alloc(&g, 64);
	for (int round = 0; round < 200; round++) {
		tq_init(&g, 0, 16);
		tq_init(&g, 1, 16);
		cr_assert_eq(tmmio_init(t, &g, VIRTIO_FEAT_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
		for (uint16_t i = 0; i < 8; i++) {
			tq_desc(q, i, buf, 64, VRING_DESC_F_WRITE, 0);
			tq_post(q, i);
			tmmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
			if (tmmio_rd(t, VIRTIO_MMIO_INTERRUPT_STATUS))
				tmmio_wr(t, VIRTIO_MMIO_INTERRUPT_ACK, 3);
		}
		tmmio_wr(t, VIRTIO_MMIO_STATUS, 0);
		/* Reset returned: the used index must not move any more. */
		uint16_t used = tq_used_idx(q);
		usleep(200);
		cr_assert_eq(tq_used_idx(q), used, "round %d", round);
	}
	atomic_store(&vmm_stop, true);
	pthread_join(th, NULL);
	thub_pump(&hub);
	cr_expect_geq(dev.activates, 1);
	cr_expect_eq(dev.activates, dev.resets);
}
