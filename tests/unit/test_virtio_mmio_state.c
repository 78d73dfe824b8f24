/* virtio/mmio_state.c: the transport's snapshot, driven through the real
 * register file with a small device that has state of its own: round
 * trips in every status, what a restore brings back up (queues, indexes,
 * interrupts, pending notifications), and blobs that lie. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/unit/test_virtio_util.h"
#include "virtio/mmio.h"

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_FAILED VIRTIO_CONFIG_S_FAILED
#define S_NR VIRTIO_CONFIG_S_NEEDS_RESET
#define S_LIVE (S_ACK | S_DRV | S_FOK | S_DOK)
#define FEAT_TEST VIRTIO_BIT(3)
#define FEATS (VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX | FEAT_TEST)
#define QSZ 16
#define BLOB_MAX 1024

/* Echoes what it reads into what it may write, and counts requests: the
 * count is its snapshot state. */
struct sdev {
	struct virtio_dev vd;
	uint8_t config[8];
	uint32_t served;
	int seq, restored_at, activated_at; /* call order */
	uint32_t served_at_activate;
	int activates, notifies;
	int fail_activate;
	bool huge; /* save claims more than any buffer holds */
};

struct sdev_state {
	uint32_t version;
	uint32_t served;
};

static int sdev_activate(struct virtio_dev *vd)
{
	struct sdev *d = (struct sdev *)vd;
	d->activates++;
	d->activated_at = ++d->seq;
	d->served_at_activate = d->served;
	return d->fail_activate;
}

static void sdev_reset(struct virtio_dev *vd)
{
	(void)vd;
}

static void sdev_notify(struct virtio_dev *vd, unsigned qi)
{
	struct sdev *d = (struct sdev *)vd;
	struct virtq *vq = &vd->vqs[qi];
	static struct virtq_chain c;
	d->notifies++;
	do {
		while (virtq_pop(vq, &c) == 1) {
			uint32_t n = c.out_len < c.in_len ? c.out_len : c.in_len;
			if (n)
				memcpy(c.iov[c.nr_out].iov_base, c.iov[0].iov_base,
				       n < c.iov[0].iov_len ? n : c.iov[0].iov_len);
			d->served++;
			virtq_push(vq, c.head, n);
		}
	} while (virtq_enable_notify(vq));
	virtio_dev_signal_used(vd, qi);
}

static int sdev_save(struct virtio_dev *vd, void *buf, size_t len)
{
	struct sdev *d = (struct sdev *)vd;
	struct sdev_state st = { 1, d->served };
	if (len < sizeof(st) || d->huge)
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int sdev_restore(struct virtio_dev *vd, const void *buf, size_t len)
{
	struct sdev *d = (struct sdev *)vd;
	struct sdev_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.version != 1)
		return -EINVAL;
	d->served = st.served;
	d->restored_at = ++d->seq;
	return 0;
}

static void sdev_destroy(struct virtio_dev *vd)
{
	(void)vd;
}

static const struct virtio_dev_ops sdev_ops = {
	.activate = sdev_activate,
	.reset = sdev_reset,
	.queue_notify = sdev_notify,
	.save = sdev_save,
	.restore = sdev_restore,
	.destroy = sdev_destroy,
};

static struct tbed bed;
static struct sdev devs[2];
static struct sdev *dev; /* the one on bed's transport */
static uint8_t blob[BLOB_MAX];
static int blob_len;

static void sdev_init(struct sdev *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned i = 0; i < sizeof(d->config); i++)
		d->config[i] = (uint8_t)(0x40 + i);
	d->vd = (struct virtio_dev){
		.name = "stest", .device_id = 42, .ops = &sdev_ops, .features = FEATS,
		.nr_queues = 2, .queue_max = 64, .config = d->config,
		.config_len = sizeof(d->config),
	};
}

static void setup(void)
{
	sdev_init(&devs[0]);
	dev = &devs[0];
	cr_assert_eq(tbed_init(&bed, &dev->vd, QSZ, VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX),
		     S_LIVE);
}

static void teardown(void)
{
	if (bed.t)
		tbed_fini(&bed);
}

TestSuite(mmio_state, .init = setup, .fini = teardown);

static uint32_t reg(uint64_t off)
{
	return tmmio_rd(bed.t, off);
}

/* One echo request on queue q: 4 bytes out, 4 back. */
static void post(unsigned q, uint16_t slot, const char *data)
{
	struct tq *tq = &bed.g.q[q];
	uint64_t in = tguest_alloc(&bed.g, 4), out = tguest_alloc(&bed.g, 4);
	memcpy(tguest_ptr(&bed.g, in, 4), data, 4);
	tq_desc(tq, slot, in, 4, VRING_DESC_F_NEXT, (uint16_t)(slot + 1));
	tq_desc(tq, (uint16_t)(slot + 1), out, 4, VRING_DESC_F_WRITE, 0);
	tq_post(tq, slot);
}

static void save_blob(void)
{
	blob_len = tbed_save(&bed, blob, sizeof(blob));
}

/* The old process is gone; a fresh device on a fresh transport. */
static void new_process(void)
{
	tbed_drop(&bed);
	dev = dev == &devs[0] ? &devs[1] : &devs[0];
	sdev_init(dev);
	tbed_attach(&bed, &dev->vd);
}

static int restore(const void *b, size_t len)
{
	return virtio_mmio_restore(bed.t, b, len);
}

static struct virtio_mmio_state header(void)
{
	struct virtio_mmio_state st;
	memcpy(&st, blob, sizeof(st));
	return st;
}

static void put_header(uint8_t *b, const struct virtio_mmio_state *st)
{
	memcpy(b, st, sizeof(*st));
}

/* Restores blob with its header replaced by st on a fresh transport. */
static int restore_with(const struct virtio_mmio_state *st)
{
	uint8_t b[BLOB_MAX];
	memcpy(b, blob, (size_t)blob_len);
	put_header(b, st);
	return restore(b, (size_t)blob_len);
}

static void expect_fresh(void)
{
	cr_expect_eq(reg(VIRTIO_MMIO_STATUS), 0);
	cr_expect_eq(reg(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_expect_not(bed.t->live);
	cr_expect_not(bed.t->active);
	cr_expect_not(dev->vd.vqs[0].live);
	cr_expect_eq(dev->served, 0);
	cr_expect_eq(dev->activates, 0);
}

Test(mmio_state, round_trip_goes_on_where_it_stopped)
{
	post(0, 0, "abcd");
	post(0, 2, "efgh");
	tbed_kick(&bed, 0);
	post(1, 0, "ijkl");
	tbed_kick(&bed, 1);
	tmmio_wr(bed.t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_SEL, 1);
	tmmio_wr(bed.t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(dev->served, 3);
	uint32_t gen = reg(VIRTIO_MMIO_CONFIG_GENERATION);
	save_blob();
	cr_assert_eq(blob_len, (int)(sizeof(struct virtio_mmio_state) + 8 + sizeof(struct sdev_state)));
	cr_assert_eq(header().queues[0].used_idx, 2);
	cr_assert_eq(header().queues[0].last_avail, 2);

	new_process();
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	/* The device's state was in place when activate ran. */
	cr_expect_eq(dev->served, 3);
	cr_expect_lt(dev->restored_at, dev->activated_at);
	cr_expect_eq(dev->served_at_activate, 3);
	cr_expect_eq(dev->activates, 1);
	cr_expect_eq(dev->vd.acked, VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX);
	cr_expect(dev->vd.vqs[0].live && dev->vd.vqs[1].live);
	cr_expect(dev->vd.vqs[0].event_idx);
	/* The registers read back as the guest left them. */
	cr_expect_eq(reg(VIRTIO_MMIO_STATUS), S_LIVE);
	cr_expect_eq(reg(VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)bed.g.q[1].desc);
	cr_expect_eq(reg(VIRTIO_MMIO_QUEUE_NUM), QSZ);
	cr_expect_eq(reg(VIRTIO_MMIO_QUEUE_READY), 1);
	cr_expect_eq(reg(VIRTIO_MMIO_DEVICE_FEATURES), 1);
	cr_expect_eq(reg(VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_expect_eq(reg(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_expect_not(bed.irq.level);
	uint32_t cfg;
	virtio_mmio_read(bed.t, 0x104, &cfg, 4);
	cr_expect_eq(cfg, 0x47464544);

	/* Every queue is looked at once; nothing completes twice. */
	thub_pump(&bed.hub);
	cr_expect_eq(dev->notifies, 2);
	cr_expect_eq(tq_used_idx(&bed.g.q[0]), 2);
	cr_expect_eq(dev->served, 3);
	cr_expect_not(bed.irq.level);
	/* The next request lands in the next used slot, and with EVENT_IDX
	 * the driver is interrupted once the used index passes 2. */
	tq_set_used_event(&bed.g.q[0], 2);
	post(0, 4, "mnop");
	tbed_kick(&bed, 0);
	uint32_t id, len;
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_assert(tq_used(&bed.g.q[0], &id, &len));
	cr_expect_eq(id, 4);
	cr_expect_eq(len, 4);
	cr_expect_eq(tq_used_idx(&bed.g.q[0]), 3);
	cr_expect_not(tq_used(&bed.g.q[0], &id, &len));
	cr_expect(bed.irq.level);
	cr_expect_eq(reg(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	cr_expect_eq(dev->served, 4);

	/* A second restore into the same transport is refused. */
	cr_expect_eq(restore(blob, (size_t)blob_len), -EBUSY);
}

Test(mmio_state, notification_pending_at_save_is_not_lost)
{
	post(0, 0, "abcd");
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* the VMM thread never saw it */
	save_blob();
	new_process();
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	thub_pump(&bed.hub);
	cr_expect_eq(dev->served, 1);
	cr_expect_eq(tq_used_idx(&bed.g.q[0]), 1);
	cr_expect(bed.irq.level);
}

Test(mmio_state, pending_interrupt_is_reasserted)
{
	post(0, 0, "abcd");
	tbed_kick(&bed, 0);
	uint8_t nc[8] = { 0 };
	memcpy(dev->config, nc, sizeof(nc)); /* the device's config, as real ones do */
	virtio_dev_config_changed(&dev->vd, dev->config, sizeof(dev->config));
	cr_assert_eq(reg(VIRTIO_MMIO_INTERRUPT_STATUS), 3);
	save_blob();
	new_process();
	memcpy(dev->config, nc, sizeof(nc));
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	/* At once, before the hub runs: the line follows InterruptStatus. */
	cr_expect(bed.irq.level);
	cr_expect_eq(bed.irq.raises, 1);
	cr_expect_eq(reg(VIRTIO_MMIO_INTERRUPT_STATUS), 3);
	tmmio_wr(bed.t, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	cr_expect_not(bed.irq.level);
}

/* An irqfd backend: the fd the transport registered is signalled again. */
static int irqfd_seen = -1;

static int fake_add_irqfd(struct backend_vm *vm, unsigned gsi, int fd)
{
	(void)vm;
	(void)gsi;
	irqfd_seen = fd;
	return 0;
}

Test(mmio_state, pending_interrupt_reasserted_through_irqfd)
{
	static const struct backend_ops be = { .name = "fake", .add_irqfd = fake_add_irqfd };
	post(0, 0, "abcd");
	tbed_kick(&bed, 0);
	save_blob();
	tbed_drop(&bed);
	sdev_init(&devs[1]);
	dev = &devs[1];
	struct virtio_mmio_opts o = { .base = 0xd0000000ULL, .be = &be, .hub = &bed.hub,
				      .mem = &bed.g.mem };
	cr_assert_eq(virtio_mmio_create(&dev->vd, &o, &bed.t), 0);
	cr_assert_geq(irqfd_seen, 0);
	uint64_t v = 0;
	cr_expect_eq(read(irqfd_seen, &v, 8), -1, "nothing signalled at creation");
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	cr_expect_eq(read(irqfd_seen, &v, 8), 8);
	cr_expect_eq(v, 1);
}

Test(mmio_state, every_status_round_trips)
{
	/* Status values a driver can leave, each saved and restored. */
	static const uint32_t steps[][4] = {
		{ S_ACK }, { S_ACK, S_ACK | S_DRV }, { S_ACK, S_ACK | S_DRV, S_ACK | S_DRV | S_FOK },
		{ S_FAILED }, { S_ACK, S_ACK | S_FAILED },
	};
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		new_process();
		tmmio_wr(bed.t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		for (unsigned k = 0; k < 4 && steps[i][k]; k++) {
			if (steps[i][k] & S_FOK)
				tmmio_wr(bed.t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
			tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, steps[i][k]);
		}
		uint32_t want = reg(VIRTIO_MMIO_STATUS);
		save_blob();
		new_process();
		cr_assert_eq(restore(blob, (size_t)blob_len), 0, "status 0x%x", want);
		cr_expect_eq(reg(VIRTIO_MMIO_STATUS), want);
		cr_expect_not(bed.t->live);
		cr_expect_eq(dev->activates, 0);
		uint8_t again[BLOB_MAX];
		cr_expect_eq(tbed_save(&bed, again, sizeof(again)), blob_len);
		cr_expect_eq(memcmp(again, blob, (size_t)blob_len), 0, "status 0x%x", want);
	}
}

Test(mmio_state, queue_setup_window_round_trips_and_driver_goes_on)
{
	/* Queues half set up, FEATURES_OK accepted, DRIVER_OK not yet. */
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, 0);
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	tmmio_wr(bed.t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	tmmio_wr(bed.t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	struct tq *q = &bed.g.q[0];
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_SEL, 0);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_NUM, QSZ);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_READY, 1);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_SEL, 1);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1234560); /* queue 1 not ready */
	save_blob();
	new_process();
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	cr_expect_not(bed.t->live);
	cr_expect_eq(reg(VIRTIO_MMIO_QUEUE_DESC_LOW), 0x1234560);
	tmmio_wr(bed.t, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_expect_eq(reg(VIRTIO_MMIO_QUEUE_READY), 1);
	/* The driver finishes: the device comes up with queue 0 only. */
	tq_init(&bed.g, 0, QSZ);
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, S_LIVE);
	thub_pump(&bed.hub);
	cr_expect_eq(dev->activates, 1);
	cr_expect(dev->vd.vqs[0].live);
	cr_expect_not(dev->vd.vqs[1].live);
	post(0, 0, "abcd");
	tbed_kick(&bed, 0);
	cr_expect_eq(tq_used_idx(q), 1);
}

Test(mmio_state, needs_reset_is_kept_and_stays_stopped)
{
	tq_set_avail_idx(&bed.g.q[0], 100); /* a lying ring */
	tbed_kick(&bed, 0);
	cr_assert(reg(VIRTIO_MMIO_STATUS) & S_NR);
	save_blob();
	cr_expect_eq(header().queues[0].last_avail, 0);
	new_process();
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	cr_expect_eq(reg(VIRTIO_MMIO_STATUS), S_LIVE | S_NR);
	cr_expect(reg(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_expect(bed.irq.level);
	cr_expect_not(bed.t->live);
	cr_expect_eq(dev->activates, 0);
	tbed_kick(&bed, 0);
	cr_expect_eq(dev->notifies, 0);
	/* Only a reset gets it going again. */
	tq_init(&bed.g, 0, QSZ);
	cr_expect_eq(tmmio_init(bed.t, &bed.g, VIRTIO_FEAT_VERSION_1), S_LIVE);
	thub_pump(&bed.hub);
	cr_expect_eq(dev->activates, 1);
}

Test(mmio_state, failed_after_driver_ok_is_kept)
{
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, S_LIVE | S_FAILED);
	save_blob();
	new_process();
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	cr_expect_eq(reg(VIRTIO_MMIO_STATUS), S_LIVE | S_FAILED);
	/* As before the save: FAILED alone does not stop the queues. */
	cr_expect(bed.t->live);
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, S_LIVE);
	cr_expect_eq(reg(VIRTIO_MMIO_STATUS), S_LIVE | S_FAILED, "only a reset clears it");
}

Test(mmio_state, reset_device_round_trips_as_fresh)
{
	post(0, 0, "abcd");
	tbed_kick(&bed, 0);
	tmmio_wr(bed.t, VIRTIO_MMIO_STATUS, 0); /* device reset not yet done by the VMM thread */
	save_blob();
	new_process();
	cr_assert_eq(restore(blob, (size_t)blob_len), 0);
	cr_expect_eq(reg(VIRTIO_MMIO_STATUS), 0);
	cr_expect_not(bed.t->live);
	cr_expect_eq(dev->served, 1, "the device's own state still comes back");
}

Test(mmio_state, activation_failure_leaves_transport_reset)
{
	save_blob();
	new_process();
	dev->fail_activate = -EIO;
	cr_assert_eq(restore(blob, (size_t)blob_len), -EIO);
	cr_expect_eq(reg(VIRTIO_MMIO_STATUS), 0);
	cr_expect_not(bed.t->live);
	cr_expect_not(bed.t->active);
	cr_expect_not(dev->vd.vqs[0].live);
	cr_expect_eq(dev->vd.stats.activate_fails, 1);
	thub_pump(&bed.hub);
	cr_expect_eq(dev->notifies, 0);
	/* A driver may still bring it up from scratch. */
	dev->fail_activate = 0;
	tq_init(&bed.g, 0, QSZ);
	tq_init(&bed.g, 1, QSZ);
	cr_expect_eq(tmmio_init(bed.t, &bed.g, VIRTIO_FEAT_VERSION_1), S_LIVE);
	thub_pump(&bed.hub);
	cr_expect_eq(dev->activates, 2);
}

Test(mmio_state, save_needs_room_and_a_bounded_device_state)
{
	save_blob();
	uint8_t b[BLOB_MAX];
	for (int len = 0; len < blob_len; len++)
		cr_assert_eq(virtio_mmio_save(bed.t, b, (size_t)len), -ENOSPC, "len %d", len);
	dev->huge = true;
	cr_expect_eq(virtio_mmio_save(bed.t, b, sizeof(b)), -E2BIG);
	cr_expect_eq(virtio_mmio_save(bed.t, b, (size_t)blob_len), -ENOSPC);
}

Test(mmio_state, every_truncation_refused_and_changes_nothing)
{
	post(0, 0, "abcd");
	tbed_kick(&bed, 0);
	save_blob();
	new_process();
	for (int len = 0; len < blob_len; len++) {
		cr_assert_eq(restore(blob, (size_t)len), -EINVAL, "len %d", len);
		expect_fresh();
	}
	cr_assert_eq(restore(blob, (size_t)blob_len + 1), -EINVAL);
	/* Lengths inside that disagree with the blob's. */
	struct virtio_mmio_state st = header();
	st.dev_len--;
	cr_expect_eq(restore_with(&st), -EINVAL);
	st.dev_len += 2;
	cr_expect_eq(restore_with(&st), -EINVAL);
	st = header();
	st.config_len = 0xffffffff;
	cr_expect_eq(restore_with(&st), -EINVAL);
	st = header();
	st.dev_len = 0xfffffff0;
	cr_expect_eq(restore_with(&st), -EINVAL);
	/* The device's own part, truncated with the lengths made to agree. */
	for (uint32_t k = 0; k < sizeof(struct sdev_state); k++) {
		st = header();
		st.dev_len = k;
		uint8_t b[BLOB_MAX];
		memcpy(b, blob, (size_t)blob_len);
		put_header(b, &st);
		cr_assert_eq(restore(b, sizeof(st) + st.config_len + k), -EINVAL, "dev_len %u", k);
		expect_fresh();
	}
	cr_expect_eq(restore(blob, (size_t)blob_len), 0);
}

Test(mmio_state, unaligned_blob)
{
	save_blob();
	new_process();
	uint8_t b[BLOB_MAX + 1];
	memcpy(b + 1, blob, (size_t)blob_len);
	cr_expect_eq(restore(b + 1, (size_t)blob_len), 0);
}

Test(mmio_state, wrong_version_or_device)
{
	save_blob();
	new_process();
	struct virtio_mmio_state st = header();
	for (uint32_t v = 0; v < 5; v++) {
		st.version = v;
		if (v != VIRTIO_MMIO_STATE_VERSION)
			cr_expect_eq(restore_with(&st), -EINVAL, "version %u", v);
	}
	st = header();
	st.device_id = 2;
	cr_expect_eq(restore_with(&st), -EINVAL);
	st = header();
	st.nr_queues = 3;
	cr_expect_eq(restore_with(&st), -EINVAL);
	/* The device's own version. */
	uint8_t b[BLOB_MAX];
	memcpy(b, blob, (size_t)blob_len);
	b[blob_len - 8] = 2;
	cr_expect_eq(restore(b, (size_t)blob_len), -EINVAL);
	expect_fresh();
}

Test(mmio_state, config_space_must_be_the_devices)
{
	post(0, 0, "abcd");
	tbed_kick(&bed, 0);
	save_blob();
	new_process();
	uint8_t b[BLOB_MAX];
	memcpy(b, blob, (size_t)blob_len);
	b[sizeof(struct virtio_mmio_state) + 3] ^= 1;
	cr_expect_eq(restore(b, (size_t)blob_len), -EINVAL);
	/* The device's restore was undone. */
	expect_fresh();
	cr_expect_eq(restore(blob, (size_t)blob_len), 0);
	cr_expect_eq(dev->served, 1);
}

/* Queues as they are when not running: indexes 0, no used interrupt. */
static void idle(struct virtio_mmio_state *st)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		st->queues[q].last_avail = st->queues[q].used_idx = 0;
		st->queues[q].signalled_used = 0;
		st->queues[q].signalled_valid = 0;
	}
	st->isr = 0;
}

/* States no driver can reach, each on a fresh transport. */
Test(mmio_state, inconsistent_states_refused)
{
	post(0, 0, "abcd");
	tbed_kick(&bed, 0);
	save_blob();
	new_process();
	const struct virtio_mmio_state good = header();
	struct virtio_mmio_state st;
#define REFUSED(what, change)                                           \
	do {                                                            \
		st = good;                                              \
		change;                                                 \
		cr_expect_eq(restore_with(&st), -EINVAL, what);         \
		expect_fresh();                                         \
	} while (0)
	REFUSED("queue ready without FEATURES_OK", st.status = S_ACK | S_DRV; idle(&st));
	REFUSED("running queue's indexes without DRIVER_OK", st.status = S_ACK | S_DRV | S_FOK;
		st.isr = 0);
	REFUSED("indexes on a queue not ready", st.queues[1].ready = 0;
		st.queues[1].used_idx = 1);
	REFUSED("feature not offered", st.drv_features |= VIRTIO_BIT(5));
	REFUSED("feature not offered, high page", st.drv_features |= VIRTIO_BIT(40));
	REFUSED("FEATURES_OK without VERSION_1", st.drv_features &= ~VIRTIO_FEAT_VERSION_1);
	REFUSED("FEATURES_OK with unoffered acks", st.bad_features = 1);
	REFUSED("features before DRIVER", st.status = S_ACK; st.isr = 0;
		for (unsigned q = 0; q < 2; q++) st.queues[q] = good.queues[2]);
	REFUSED("ring outside memory", st.queues[0].used = 0x1ff000000ULL);
	REFUSED("ring past the end of memory", st.queues[0].desc = TDRV_MEM - 16);
	REFUSED("misaligned ring", st.queues[0].avail += 1);
	REFUSED("queue larger than its maximum", st.queues[0].size = 128);
	REFUSED("queue size not a power of 2", st.queues[0].size = 12);
	REFUSED("queue size 0", st.queues[0].size = 0);
	REFUSED("ready not a boolean", st.queues[0].ready = 2);
	REFUSED("signalled_valid not a boolean", st.queues[0].signalled_valid = 2);
	REFUSED("queue reserved bytes", st.queues[0].reserved[5] = 1);
	REFUSED("a queue the device lacks", st.queues[2].ready = 1);
	REFUSED("a queue the device lacks, address", st.queues[3].desc = 0x10000);
	REFUSED("a queue the device lacks, size", st.queues[2].size = 16);
	REFUSED("NEEDS_RESET before DRIVER_OK", st.status = S_ACK | S_DRV | S_FOK | S_NR;
		idle(&st));
	REFUSED("unknown status bit", st.status |= 0x10);
	REFUSED("DRIVER_OK without FEATURES_OK", st.status = S_ACK | S_DRV | S_DOK);
	REFUSED("DRIVER without ACKNOWLEDGE", st.status = S_DRV);
	REFUSED("unknown interrupt bit", st.isr = 4);
	REFUSED("used-ring interrupt before DRIVER_OK", st.status = S_ACK | S_DRV;
		st.drv_features = VIRTIO_FEAT_VERSION_1;
		for (unsigned q = 0; q < 2; q++) st.queues[q] = good.queues[2];
		st.isr = VIRTIO_MMIO_INT_VRING);
	REFUSED("bad_features not a boolean", st.status = S_ACK | S_DRV; st.bad_features = 2);
	REFUSED("reserved", st.reserved[1] = 1);
	/* The same states made consistent are accepted (so the refusals
	 * above are for the reason given). */
	st = good;
	st.status = S_ACK | S_DRV | S_FOK;
	idle(&st);
	cr_expect_eq(restore_with(&st), 0, "queues set up, no DRIVER_OK");
	new_process();
	st = good;
	st.status = S_ACK | S_DRV;
	st.drv_features = VIRTIO_FEAT_VERSION_1;
	for (unsigned q = 0; q < 2; q++)
		st.queues[q] = good.queues[2];
	st.isr = VIRTIO_MMIO_INT_CONFIG;
	cr_expect_eq(restore_with(&st), 0, "features acked, config interrupt");
	new_process();
	REFUSED("device state too long", st.dev_len = VIRTIO_DEV_STATE_MAX + 1);
#undef REFUSED
	/* And the good one still goes in. */
	cr_expect_eq(restore(blob, (size_t)blob_len), 0);
}

/* Every bit of every byte flipped, each on a fresh transport: refused with
 * nothing changed, or accepted as exactly the state it describes. */
Test(mmio_state, every_flipped_bit_is_refused_or_coherent)
{
	post(0, 0, "abcd");
	post(0, 2, "efgh");
	tbed_kick(&bed, 0);
	post(1, 0, "ijkl");
	tbed_kick(&bed, 1);
	save_blob();
	const uint8_t *good = blob;
	int n = blob_len;
	unsigned accepted = 0;
	for (int i = 0; i < n; i++) {
		for (unsigned x = 1; x < 256; x <<= 1) {
			uint8_t b[BLOB_MAX];
			memcpy(b, good, (size_t)n);
			b[i] ^= (uint8_t)x;
			new_process();
			int r = restore(b, (size_t)n);
			cr_assert(r == 0 || r == -EINVAL, "byte %d bit 0x%x: %d", i, x, r);
			if (r < 0) {
				expect_fresh();
				continue;
			}
			accepted++;
			uint8_t again[BLOB_MAX];
			cr_assert_eq(virtio_mmio_save(bed.t, again, sizeof(again)), n);
			cr_assert_eq(memcmp(again, b, (size_t)n), 0, "byte %d bit 0x%x", i, x);
		}
	}
	cr_expect_gt(accepted, 0);
	/* Fields where every change must be caught: a byte of each. */
	const size_t q0 = offsetof(struct virtio_mmio_state, queues);
	const size_t qs = sizeof(struct virtio_mmio_queue_state);
	const size_t must[] = {
		offsetof(struct virtio_mmio_state, version),
		offsetof(struct virtio_mmio_state, device_id),
		offsetof(struct virtio_mmio_state, nr_queues),
		offsetof(struct virtio_mmio_state, status),
		offsetof(struct virtio_mmio_state, isr),
		offsetof(struct virtio_mmio_state, drv_features),
		offsetof(struct virtio_mmio_state, drv_features) + 4,
		offsetof(struct virtio_mmio_state, config_len),
		offsetof(struct virtio_mmio_state, dev_len),
		offsetof(struct virtio_mmio_state, bad_features),
		offsetof(struct virtio_mmio_state, reserved),
		q0 + offsetof(struct virtio_mmio_queue_state, desc),
		q0 + offsetof(struct virtio_mmio_queue_state, avail) + 5,
		q0 + offsetof(struct virtio_mmio_queue_state, used) + 3,
		q0 + offsetof(struct virtio_mmio_queue_state, size),
		q0 + offsetof(struct virtio_mmio_queue_state, ready),
		q0 + offsetof(struct virtio_mmio_queue_state, signalled_valid),
		q0 + offsetof(struct virtio_mmio_queue_state, reserved) + 2,
		q0 + 2 * qs + offsetof(struct virtio_mmio_queue_state, desc),
		q0 + 2 * qs + offsetof(struct virtio_mmio_queue_state, size),
		q0 + 3 * qs + offsetof(struct virtio_mmio_queue_state, used_idx),
		sizeof(struct virtio_mmio_state),      /* config space */
		sizeof(struct virtio_mmio_state) + 7,
		sizeof(struct virtio_mmio_state) + 8,  /* the device's version */
	};
	for (size_t k = 0; k < sizeof(must) / sizeof(must[0]); k++) {
		uint8_t b[BLOB_MAX];
		memcpy(b, good, (size_t)n);
		b[must[k]] ^= 0xff;
		new_process();
		cr_expect_eq(restore(b, (size_t)n), -EINVAL, "byte %zu", must[k]);
	}
}
