/* The VMM-thread half of the virtio-mmio transport: what devices call
 * (virtio/virtio.h), queue notifications and activation/reset handed over
 * from the vCPU side, and the transport's life cycle. See the threading
 * rule in mmio.h. */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "virtio/mmio_int.h"

static void efd_drain(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));
	(void)n;
}

/* --- the device-facing API (VMM thread, run_lock held) --- */

void virtio_dev_signal_used(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nr_queues || !virtq_should_notify(&vd->vqs[q]))
		return;
	vd->stats.interrupts++;
	virtio_mmio_raise(vd->transport, VIRTIO_MMIO_INT_VRING);
}

void virtio_dev_config_changed(struct virtio_dev *vd, const void *config, size_t len)
{
	struct virtio_mmio *t = vd->transport;
	pthread_mutex_lock(&t->regs_lock);
	if (len > sizeof(t->config))
		len = sizeof(t->config);
	memcpy(t->config, config, len);
	t->config_len = len;
	t->config_gen++;
	pthread_mutex_unlock(&t->regs_lock);
	vd->stats.config_changes++;
	virtio_mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *vd, const char *why)
{
	struct virtio_mmio *t = vd->transport;
	log_ratelimited(LOG_WARN, "%s: %s: device needs reset", t->name, why);
	pthread_mutex_lock(&t->regs_lock);
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	t->live = false;
	virtio_mmio_stop_queues(t);
	pthread_mutex_unlock(&t->regs_lock);
	/* Not the device's reset here: its caller may still be inside it. */
	t->failing = true;
	vd->stats.config_changes++;
	virtio_mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
}

bool virtio_dev_enter(struct virtio_dev *vd)
{
	struct virtio_mmio *t = vd->transport;
	pthread_mutex_lock(&t->run_lock);
	return t->live && t->active;
}

void virtio_dev_leave(struct virtio_dev *vd)
{
	struct virtio_mmio *t = vd->transport;
	if (t->live) {
		for (unsigned q = 0; q < vd->nr_queues; q++) {
			if (vd->vqs[q].broken) {
				virtio_dev_fail(vd, "a queue's ring is corrupt");
				break;
			}
		}
	}
	if (t->failing) {
		t->failing = false;
		if (t->active) {
			vd->ops->reset(vd);
			t->active = false;
			t->halted = true;
		}
	}
	/* A queue left with work for the budget: its notification again, so
	 * the hub comes back once whatever else is ready has had its turn. */
	for (unsigned q = 0; q < vd->nr_queues; q++)
		if (virtq_budget_reset(&vd->vqs[q]) && t->live)
			virtio_mmio_efd_signal(t->notify_efd[q]);
	pthread_mutex_unlock(&t->run_lock);
}

/* --- VMM-thread callbacks --- */

static void mmio_on_notify(struct vhub_watch *w, uint32_t events)
{
	(void)events;
	struct virtio_mmio *t = w->opaque;
	unsigned q = (unsigned)(w - t->notify_w);
	efd_drain(w->fd);
	if (virtio_dev_enter(t->dev)) {
		t->dev->stats.queue_notifies++;
		t->dev->ops->queue_notify(t->dev, q);
	}
	virtio_dev_leave(t->dev);
}

static void mmio_on_ctrl(struct vhub_watch *w, uint32_t events)
{
	(void)events;
	struct virtio_mmio *t = w->opaque;
	struct virtio_dev *d = t->dev;
	efd_drain(w->fd);
	pthread_mutex_lock(&t->run_lock);
	pthread_mutex_lock(&t->regs_lock);
	unsigned pending = t->pending;
	t->pending = 0;
	pthread_mutex_unlock(&t->regs_lock);
	if ((pending & VIRTIO_MMIO_PENDING_RESET) && (t->active || t->halted)) {
		if (t->active)
			d->ops->reset(d);
		t->active = t->halted = false;
		d->stats.resets++;
	}
	if ((pending & VIRTIO_MMIO_PENDING_ACTIVATE) && t->live && !t->active) {
		int r = d->ops->activate(d);
		if (r < 0) {
			d->stats.activate_fails++;
			log_ratelimited(LOG_WARN, "%s: activation failed: %s", t->name, strerror(-r));
			virtio_dev_fail(d, "activation failed");
		} else {
			t->active = true;
			d->stats.activations++;
			for (unsigned q = 0; q < d->nr_queues && t->live; q++)
				d->ops->queue_notify(d, q);
		}
	}
	/* Unlocks, after the broken-queue check every device callback gets. */
	virtio_dev_leave(d);
}

/* --- life cycle --- */

static void mmio_free(struct virtio_mmio *t);

static int mmio_setup_irq(struct virtio_mmio *t)
{
	/* Without an irqfd the line itself must exist (the TCG backend's
	 * 8259 pair has only ISA lines 0-15): find out now, not when the
	 * guest waits for its first interrupt. */
	if (!t->be || !t->be->add_irqfd)
		return irq_line_set(&t->irq, false);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	int r = t->be->add_irqfd(t->bvm, t->irq.gsi, fd);
	if (r == -EOPNOTSUPP) {
		close(fd);
		return irq_line_set(&t->irq, false);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	t->irqfd = fd;
	return 0;
}

static int mmio_setup_queue(struct virtio_mmio *t, unsigned q)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	t->notify_efd[q] = fd;
	if (t->be && t->be->add_ioeventfd) {
		int r = t->be->add_ioeventfd(t->bvm, t->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q, fd);
		if (r < 0 && r != -EOPNOTSUPP)
			return r;
		if (r == 0)
			t->dev->notify_exits = false;
	}
	return vhub_add(t->hub, &t->notify_w[q], fd, EPOLLIN, mmio_on_notify, t);
}

int virtio_mmio_create(struct virtio_dev *dev, const struct virtio_mmio_opts *o,
		       struct virtio_mmio **out)
{
	if (dev->nr_queues > VIRTIO_MAX_QUEUES || dev->config_len > VIRTIO_MMIO_CONFIG_MAX ||
	    dev->queue_max == 0 || dev->queue_max > VIRTQ_MAX_SIZE ||
	    !(dev->features & VIRTIO_FEAT_VERSION_1) || !dev->ops->save || !dev->ops->restore)
		return -EINVAL;
	struct virtio_mmio *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->dev = dev;
	t->hub = o->hub;
	t->base = o->base;
	t->be = o->be;
	t->bvm = o->bvm;
	t->irq = o->irq;
	t->irqfd = t->ctrl_efd = -1;
	t->ctrl_w.fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		t->notify_efd[q] = -1;
		t->notify_w[q].fd = -1;
		t->queues[q].size = dev->queue_max;
	}
	pthread_mutex_init(&t->regs_lock, NULL);
	pthread_mutex_init(&t->run_lock, NULL);
	snprintf(t->name, sizeof(t->name), "%s@0x%" PRIx64, dev->name, o->base);
	if (dev->config_len)
		memcpy(t->config, dev->config, dev->config_len);
	t->config_len = dev->config_len;
	dev->mem = o->mem;
	dev->hub = o->hub;
	for (unsigned q = 0; q < dev->nr_queues; q++) {
		dev->vqs[q].name = t->name;
		dev->vqs[q].index = q;
		dev->vqs[q].written = o->written;
	}
	dev->transport = t;
	dev->notify_exits = true; /* until an ioeventfd takes them */

	int r = mmio_setup_irq(t);
	if (r == 0) {
		t->ctrl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r = t->ctrl_efd < 0 ? -errno : vhub_add(o->hub, &t->ctrl_w, t->ctrl_efd,
							 EPOLLIN, mmio_on_ctrl, t);
	}
	for (unsigned q = 0; r == 0 && q < dev->nr_queues; q++)
		r = mmio_setup_queue(t, q);
	if (r < 0) {
		dev->transport = NULL;
		mmio_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int virtio_mmio_register(struct virtio_mmio *t, struct bus *bus)
{
	return bus_add(bus, t->base, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, t, t->name);
}

/* Everything but the device. */
static void mmio_free(struct virtio_mmio *t)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vhub_del(t->hub, &t->notify_w[q]);
		if (t->notify_efd[q] >= 0)
			close(t->notify_efd[q]);
	}
	vhub_del(t->hub, &t->ctrl_w);
	if (t->ctrl_efd >= 0)
		close(t->ctrl_efd);
	if (t->irqfd >= 0)
		close(t->irqfd);
	pthread_mutex_destroy(&t->regs_lock);
	pthread_mutex_destroy(&t->run_lock);
	free(t);
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t)
		return;
	if (t->active)
		t->dev->ops->reset(t->dev);
	t->active = false;
	virtio_mmio_stop_queues(t);
	t->dev->ops->destroy(t->dev);
	mmio_free(t);
}

static void virtio_mmio_counters(void *opaque, device_counter_fn fn, void *ctx)
{
	const struct virtio_mmio *t = opaque;
	const struct virtio_dev *d = t->dev;
	fn(ctx, "activate_fails", d->stats.activate_fails);
	fn(ctx, "queue_event_count", d->stats.queue_notifies);
	fn(ctx, "ember_interrupts", d->stats.interrupts);
	fn(ctx, "ember_resets", d->stats.resets);
	if (d->ops->counters)
		d->ops->counters(d, fn, ctx);
}

static void virtio_mmio_dev_destroy(void *opaque)
{
	virtio_mmio_destroy(opaque);
}

static int virtio_mmio_dev_save(void *opaque, void *buf, size_t len)
{
	return virtio_mmio_save(opaque, buf, len);
}

static int virtio_mmio_dev_restore(void *opaque, const void *buf, size_t len)
{
	return virtio_mmio_restore(opaque, buf, len);
}

/* The used rings: the device writes their entries, index and avail_event
 * through host pointers; buffers it fills are reported as they are filled. */
static void virtio_mmio_written_ranges(void *opaque,
				       void (*mark)(void *ctx, uint64_t gpa, uint64_t len),
				       void *ctx)
{
	const struct virtio_mmio *t = opaque;
	const struct virtio_dev *d = t->dev;
	uint64_t gpa, len;
	for (unsigned q = 0; q < d->nr_queues; q++)
		if (virtq_used_range(&d->vqs[q], &gpa, &len) == 0)
			mark(ctx, gpa, len);
}

const struct device_ops virtio_mmio_device_ops = {
	.counters = virtio_mmio_counters,
	.save = virtio_mmio_dev_save,
	.restore = virtio_mmio_dev_restore,
	.written_ranges = virtio_mmio_written_ranges,
	.destroy = virtio_mmio_dev_destroy,
};
