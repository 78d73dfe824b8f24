/* The VM's virtio-mmio devices: one transport per device in its own 4 KiB
 * slot, announced on the kernel command line as Firecracker does
 * ("virtio_mmio.device=4K@0xADDR:IRQ"), and one hub (an epoll set) for all
 * of their fds, registered as a single handler in the VMM loop. */
#include "runtime/vm/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "config/config.h"
#include "runtime/boot/layout.h"
#include "runtime/base/log.h"
#include "runtime/boot/mptable.h"
#include "runtime/vm/vm.h"
#include "virtio/blk.h"
#include "virtio/hub.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

/* Slots end where the I/O APIC's pins do (runtime/boot/mptable.h). */
#define VM_VIRTIO_MAX (MPTABLE_IRQS - LAYOUT_FIRST_VIRTIO_IRQ)

enum vm_virtio_kind { VV_BLOCK, VV_NET, VV_VSOCK, VV_ENTROPY };

struct vm_virtio {
	struct vm *vm;
	struct vhub hub;
	bool hub_ok, hub_watched;
	unsigned n;
	struct virtio_mmio *devs[VM_VIRTIO_MAX];
	enum vm_virtio_kind kind[VM_VIRTIO_MAX];
	char section[VM_VIRTIO_MAX][CONFIG_ID_MAX + 8]; /* metrics section name */
};

static void vm_virtio_on_hub(void *opaque, uint32_t events)
{
	(void)events;
	struct vm_virtio *vv = opaque;
	int r = vhub_run(&vv->hub, 0);
	if (r < 0)
		log_ratelimited(LOG_ERROR, "virtio: event dispatch: %s", strerror(-r));
}

/* Takes ownership of dev (destroyed on failure). */
static int vm_virtio_add(struct vm_virtio *vv, struct virtio_dev *dev, enum vm_virtio_kind kind,
			 const char *id, struct cmdline *cl, struct errbuf *err)
{
	struct vm *vm = vv->vm;
	if (vv->n == VM_VIRTIO_MAX) {
		err_set(err, -ENOSPC, "%s: no free virtio slot (at most %u devices)", dev->name,
			VM_VIRTIO_MAX);
		dev->ops->destroy(dev);
		return -ENOSPC;
	}
	unsigned slot = vv->n;
	uint64_t base = LAYOUT_MMIO_DEV_BASE + slot * LAYOUT_MMIO_DEV_SIZE;
	unsigned irq = LAYOUT_FIRST_VIRTIO_IRQ + slot;
	struct virtio_mmio_opts o = {
		.base = base,
		.irq = { vm_irq_set, vm, irq },
		.be = vm->be,
		.bvm = vm->bvm,
		.hub = &vv->hub,
		.mem = &vm->mem,
	};
	struct virtio_mmio *t;
	int r = virtio_mmio_create(dev, &o, &t);
	if (r < 0) {
		err_set(err, r, "%s: transport (slot %u, IRQ %u): %s", dev->name, slot, irq,
			strerror(-r));
		dev->ops->destroy(dev);
		return r;
	}
	static const char *const prefix[] = { "block_", "net_", "vsock", "entropy" };
	snprintf(vv->section[vv->n], sizeof(vv->section[vv->n]), "%s%s", prefix[kind],
		 id ? id : "");
	vv->kind[vv->n] = kind;
	vv->devs[vv->n++] = t;
	r = virtio_mmio_register(t, &vm->mmio);
	if (r < 0)
		return err_set(err, r, "%s: MMIO slot 0x%llx: %s", dev->name,
			       (unsigned long long)base, strerror(-r));
	return cmdline_append(cl, err, "virtio_mmio.device=4K@0x%llx:%u",
			      (unsigned long long)base, irq);
}

/* Firecracker's rule: the root drive's root= and rw/ro unless boot_args
 * already chose a root. */
static int vm_virtio_root(const struct config_drive *d, struct cmdline *cl, struct errbuf *err)
{
	if (cmdline_has(cl, "root"))
		return 0;
	int r = d->partuuid ? cmdline_append(cl, err, "root=PARTUUID=%s", d->partuuid)
			    : cmdline_append(cl, err, "root=/dev/vda");
	if (r == 0)
		r = cmdline_append(cl, err, "%s", d->is_read_only ? "ro" : "rw");
	return r;
}

static int vm_virtio_devices(struct vm_virtio *vv, const struct vm_config *cfg,
			     struct cmdline *cl, struct errbuf *err)
{
	struct virtio_dev *dev;
	int r;
	/* Drives first, root drive first (config keeps it at drives[0]), so
	 * it becomes /dev/vda. */
	for (size_t i = 0; i < cfg->n_drives; i++) {
		const struct config_drive *d = &cfg->drives[i];
		if ((r = vblk_create(d, &dev, err)) < 0 || (r = vm_virtio_add(vv, dev, VV_BLOCK, d->drive_id, cl, err)) < 0)
			return err_wrap(err, r, "drive %s", d->drive_id);
		if (d->is_root_device && (r = vm_virtio_root(d, cl, err)) < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->n_nets; i++) {
		const struct config_net *n = &cfg->nets[i];
		if ((r = vnet_create(n, &dev, err)) < 0 || (r = vm_virtio_add(vv, dev, VV_NET, n->iface_id, cl, err)) < 0)
			return err_wrap(err, r, "network interface %s", n->iface_id);
	}
	if (cfg->vsock.present) {
		if ((r = vsock_create(&cfg->vsock, &dev, err)) < 0 ||
		    (r = vm_virtio_add(vv, dev, VV_VSOCK, NULL, cl, err)) < 0)
			return err_wrap(err, r, "vsock");
	}
	if (cfg->entropy.present) {
		if ((r = vrng_create(&cfg->entropy, &dev, err)) < 0 ||
		    (r = vm_virtio_add(vv, dev, VV_ENTROPY, NULL, cl, err)) < 0)
			return err_wrap(err, r, "entropy");
	}
	return 0;
}

int vm_virtio_create(struct vm *vm, const struct vm_config *cfg, struct cmdline *cl,
		     struct errbuf *err)
{
	if (!cfg->n_drives && !cfg->n_nets && !cfg->vsock.present && !cfg->entropy.present)
		return 0;
	if (!vm->loop)
		return err_set(err, -EINVAL, "virtio: the VM has no event loop");
	struct vm_virtio *vv = calloc(1, sizeof(*vv));
	if (!vv)
		return err_set(err, -ENOMEM, "virtio: out of memory");
	vv->vm = vm;
	vm->virtio = vv;
	int r = vhub_init(&vv->hub);
	if (r < 0)
		return err_set(err, r, "virtio: epoll: %s", strerror(-r));
	vv->hub_ok = true;
	r = evloop_add(vm->loop, vv->hub.epfd, EPOLLIN, vm_virtio_on_hub, vv);
	if (r < 0)
		return err_set(err, r, "virtio: VMM event loop: %s", strerror(-r));
	vv->hub_watched = true;
	return vm_virtio_devices(vv, cfg, cl, err);
}

void vm_virtio_destroy(struct vm *vm)
{
	if (!vm || !vm->virtio)
		return;
	struct vm_virtio *vv = vm->virtio;
	for (unsigned i = vv->n; i-- > 0;)
		virtio_mmio_destroy(vv->devs[i]);
	if (vv->hub_watched)
		evloop_del(vm->loop, vv->hub.epfd);
	if (vv->hub_ok)
		vhub_destroy(&vv->hub);
	free(vv);
	vm->virtio = NULL;
}

int vm_virtio_update_drive(struct vm *vm, const char *drive_id, const char *path,
			   struct errbuf *err)
{
	struct vm_virtio *vv = vm ? vm->virtio : NULL;
	char section[CONFIG_ID_MAX + 8];
	snprintf(section, sizeof(section), "block_%s", drive_id);
	for (unsigned i = 0; vv && i < vv->n; i++)
		if (vv->kind[i] == VV_BLOCK && !strcmp(vv->section[i], section))
			return vblk_update_path(vv->devs[i]->dev, path, err);
	return err_set(err, -ENOENT, "drive %s: no such drive", drive_id);
}

static void vm_virtio_dev_counters(const char *sec, const struct virtio_dev *d,
				   vm_virtio_counter_fn fn, void *ctx)
{
	fn(ctx, sec, "activate_fails", d->stats.activate_fails);
	fn(ctx, sec, "queue_event_count", d->stats.queue_notifies);
	fn(ctx, sec, "ember_interrupts", d->stats.interrupts);
	fn(ctx, sec, "ember_resets", d->stats.resets);
}

void vm_virtio_counters(struct vm *vm, vm_virtio_counter_fn fn, void *ctx)
{
	struct vm_virtio *vv = vm ? vm->virtio : NULL;
	for (unsigned i = 0; vv && i < vv->n; i++) {
		const struct virtio_dev *d = vv->devs[i]->dev;
		const char *sec = vv->section[i];
		vm_virtio_dev_counters(sec, d, fn, ctx);
		switch (vv->kind[i]) {
		case VV_BLOCK: {
			const struct vblk_stats *s = vblk_stats(d);
			fn(ctx, sec, "read_count", s->reads);
			fn(ctx, sec, "write_count", s->writes);
			fn(ctx, sec, "flush_count", s->flushes);
			fn(ctx, sec, "read_bytes", s->read_bytes);
			fn(ctx, sec, "write_bytes", s->write_bytes);
			fn(ctx, sec, "invalid_reqs_count", s->invalid + s->unsupported);
			fn(ctx, sec, "ember_io_errors", s->io_errors);
			fn(ctx, sec, "ember_discard_count", s->discards);
			fn(ctx, sec, "ember_write_zeroes_count", s->write_zeroes);
			break;
		}
		case VV_NET: {
			const struct vnet_stats *s = vnet_stats(d);
			fn(ctx, sec, "rx_packets_count", s->rx_packets);
			fn(ctx, sec, "rx_bytes_count", s->rx_bytes);
			fn(ctx, sec, "tx_packets_count", s->tx_packets);
			fn(ctx, sec, "tx_bytes_count", s->tx_bytes);
			fn(ctx, sec, "tx_malformed_frames", s->tx_dropped);
			fn(ctx, sec, "ember_rx_dropped", s->rx_dropped);
			fn(ctx, sec, "ember_rx_blocked", s->rx_blocked);
			break;
		}
		case VV_VSOCK: {
			const struct vsock_stats *s = vsock_stats(d);
			fn(ctx, sec, "rx_packets_count", s->rx_packets);
			fn(ctx, sec, "rx_bytes_count", s->rx_bytes);
			fn(ctx, sec, "tx_packets_count", s->tx_packets);
			fn(ctx, sec, "tx_bytes_count", s->tx_bytes);
			fn(ctx, sec, "conns_added", s->conns_opened);
			fn(ctx, sec, "conns_removed", s->conns_closed);
			fn(ctx, sec, "conn_event_fails", s->conns_refused);
			fn(ctx, sec, "ember_rsts_dropped", s->rsts_dropped);
			fn(ctx, sec, "ember_credit_violations", s->credit_violations);
			fn(ctx, sec, "ember_rsts_sent", s->rsts_sent);
			fn(ctx, sec, "ember_malformed", s->malformed);
			break;
		}
		case VV_ENTROPY: {
			const struct vrng_stats *s = vrng_stats(d);
			fn(ctx, sec, "entropy_event_count", s->requests);
			fn(ctx, sec, "entropy_bytes", s->bytes);
			fn(ctx, sec, "host_rng_fails", s->errors);
			break;
		}
		}
	}
}
