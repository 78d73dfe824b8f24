/* The VM's virtio-mmio devices: one transport per device in its own 4 KiB
 * slot, announced in the DSDT (_HID LNRO0005) or, when the guest is told
 * acpi=off, on the kernel command line as Firecracker does
 * ("virtio_mmio.device=4K@0xADDR:IRQ"), never both; and one hub (an epoll set) for all
 * of their fds, registered as a single handler in the VMM loop. Which
 * devices a config asks for is one table: a config section, how many
 * instances it has, and how each is created. */
#include "runtime/vm/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "config/config.h"
#include "runtime/base/log.h"
#include "runtime/boot/layout.h"
#include "runtime/boot/mptable.h"
#include "runtime/vm/build.h"
#include "runtime/vm/vm.h"
#include "virtio/blk.h"
#include "virtio/hub.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

/* Slots end where the I/O APIC's pins do (runtime/boot/mptable.h); IRQ 8
 * is the RTC's, which x86 Linux claims unshared whatever the platform
 * says (arch/x86/kernel/rtc.c, rtc-cmos), so no virtio device gets it. */
#define VM_VIRTIO_MAX (MPTABLE_IRQS - LAYOUT_FIRST_VIRTIO_IRQ - 1)

static unsigned vm_virtio_irq(unsigned slot)
{
	unsigned irq = LAYOUT_FIRST_VIRTIO_IRQ + slot;
	return irq >= LAYOUT_RTC_IRQ ? irq + 1 : irq;
}

struct vm_virtio {
	struct vhub hub;
	bool hub_ok, hub_watched;
	unsigned n; /* slots taken */
};

/* One kind of virtio device in the config. */
struct virtio_kind {
	const char *what;   /* for messages: "drive", ... */
	const char *prefix; /* metrics group: prefix + instance id */
	size_t (*count)(const struct vm_config *cfg);
	/* Creates instance i; *id is its config id, NULL for single devices. */
	int (*create)(const struct vm_config *cfg, size_t i, struct virtio_dev **out,
		      const char **id, struct errbuf *err);
	/* After the device is on the bus: what else the command line needs. */
	int (*announce)(const struct vm_config *cfg, size_t i, struct cmdline *cl,
			struct errbuf *err);
	/* Before the device is on the bus: what the VM adds to it. */
	int (*extend)(struct vm *vm, const struct vm_config *cfg, size_t i, struct virtio_dev *dev,
		      struct errbuf *err);
};

static size_t count_drives(const struct vm_config *cfg) { return cfg->n_drives; }
static size_t count_nets(const struct vm_config *cfg) { return cfg->n_nets; }
static size_t count_vsock(const struct vm_config *cfg) { return cfg->vsock.present; }
static size_t count_entropy(const struct vm_config *cfg) { return cfg->entropy.present; }

static int create_drive(const struct vm_config *cfg, size_t i, struct virtio_dev **out,
			const char **id, struct errbuf *err)
{
	*id = cfg->drives[i].drive_id;
	return vblk_create(&cfg->drives[i], out, err);
}

static int create_net(const struct vm_config *cfg, size_t i, struct virtio_dev **out,
		      const char **id, struct errbuf *err)
{
	*id = cfg->nets[i].iface_id;
	return vnet_create(&cfg->nets[i], out, err);
}

static int create_vsock(const struct vm_config *cfg, size_t i, struct virtio_dev **out,
			const char **id, struct errbuf *err)
{
	(void)i;
	*id = NULL;
	return vsock_create(&cfg->vsock, out, err);
}

static int create_entropy(const struct vm_config *cfg, size_t i, struct virtio_dev **out,
			  const char **id, struct errbuf *err)
{
	(void)i;
	*id = NULL;
	return vrng_create(&cfg->entropy, out, err);
}

#define VM_NET_TX_BATCH_NS 150000

/* TX batching; MMDS on the interfaces mmds-config lists. */
static int extend_net(struct vm *vm, const struct vm_config *cfg, size_t i, struct virtio_dev *dev,
		      struct errbuf *err)
{
	/* Used only where notifications stop the guest CPU (no ioeventfd):
	 * QEMU's virtio-net TX timer period. */
	vnet_set_tx_batch(dev, VM_NET_TX_BATCH_NS);
	if (!cfg->mmds.present || !vm->opts.mmds)
		return 0;
	for (size_t k = 0; k < cfg->mmds.n_ifaces; k++)
		if (strcmp(cfg->mmds.ifaces[k], cfg->nets[i].iface_id) == 0)
			return vnet_enable_mmds(dev, vm->opts.mmds, err);
	return 0;
}

/* Firecracker's rule: the root drive's root= and rw/ro unless boot_args
 * already chose a root. */
static int announce_root(const struct vm_config *cfg, size_t i, struct cmdline *cl,
			 struct errbuf *err)
{
	const struct config_drive *d = &cfg->drives[i];
	if (!d->is_root_device || cmdline_has(cl, "root"))
		return 0;
	int r = d->partuuid ? cmdline_append(cl, err, "root=PARTUUID=%s", d->partuuid)
			    : cmdline_append(cl, err, "root=/dev/vda");
	if (r == 0)
		r = cmdline_append(cl, err, "%s", d->is_read_only ? "ro" : "rw");
	return r;
}

/* Drives first, root drive first (config keeps it at drives[0]), so it
 * becomes /dev/vda. */
static const struct virtio_kind kinds[] = {
	{ "drive", "block_", count_drives, create_drive, announce_root },
	{ "network interface", "net_", count_nets, create_net, NULL, extend_net },
	{ "vsock", "vsock", count_vsock, create_vsock, NULL },
	{ "entropy", "entropy", count_entropy, create_entropy, NULL },
};

static void vm_virtio_on_hub(void *opaque, uint32_t events)
{
	(void)events;
	struct vm_virtio *vv = opaque;
	int r = vhub_run(&vv->hub, 0);
	if (r < 0)
		log_ratelimited(LOG_ERROR, "virtio: event dispatch: %s", strerror(-r));
}

/* Puts dev behind a transport in the next slot. Takes ownership of dev
 * (destroyed on failure). */
static int vm_virtio_add(struct vm *vm, struct virtio_dev *dev, const char *group,
			 struct cmdline *cl, struct errbuf *err)
{
	struct vm_virtio *vv = vm->virtio;
	if (vv->n == VM_VIRTIO_MAX) {
		err_set(err, -ENOSPC, "%s: no free virtio slot (at most %u devices)", dev->name,
			VM_VIRTIO_MAX);
		dev->ops->destroy(dev);
		return -ENOSPC;
	}
	unsigned slot = vv->n;
	uint64_t base = LAYOUT_MMIO_DEV_BASE + slot * LAYOUT_MMIO_DEV_SIZE;
	unsigned irq = vm_virtio_irq(slot);
	struct virtio_mmio_opts o = {
		.base = base,
		.irq = { vm_irq_set, vm, irq },
		.be = vm->be,
		.bvm = vm->bvm,
		.hub = &vv->hub,
		.mem = &vm->mem,
	};
	if (vm->be->guest_written || vm->dirty.on)
		o.written = (struct virtq_written_hook){ vm_guest_written, vm };
	struct virtio_mmio *t;
	int r = virtio_mmio_create(dev, &o, &t);
	if (r < 0) {
		err_set(err, r, "%s: transport (slot %u, IRQ %u): %s", dev->name, slot, irq,
			strerror(-r));
		dev->ops->destroy(dev);
		return r;
	}
	vv->n++;
	r = vm_devices_add(&vm->devs, group, &virtio_mmio_device_ops, t);
	if (r < 0)
		return err_set(err, r, "%s: %s", dev->name, strerror(-r));
	r = virtio_mmio_register(t, &vm->mmio);
	if (r < 0)
		return err_set(err, r, "%s: MMIO slot 0x%llx: %s", dev->name,
			       (unsigned long long)base, strerror(-r));
	if (vm->acpi.on) {
		struct acpi_dev_desc d;
		r = acpi_dev_virtio_mmio(&d, slot, (uint32_t)base, (uint32_t)LAYOUT_MMIO_DEV_SIZE, irq);
		if (r < 0)
			return err_set(err, r, "%s: ACPI description of slot %u", dev->name, slot);
		return vm_acpi_add(vm, &d, err);
	}
	return cmdline_append(cl, err, "virtio_mmio.device=4K@0x%llx:%u",
			      (unsigned long long)base, irq);
}

static int vm_virtio_devices(struct vm *vm, const struct vm_config *cfg, struct cmdline *cl,
			     struct errbuf *err)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const struct virtio_kind *kind = &kinds[k];
		for (size_t i = 0; i < kind->count(cfg); i++) {
			struct virtio_dev *dev;
			const char *id = NULL;
			char group[VM_DEVICE_NAME_MAX];
			int r = kind->create(cfg, i, &dev, &id, err);
			if (r == 0 && kind->extend && (r = kind->extend(vm, cfg, i, dev, err)) < 0)
				dev->ops->destroy(dev);
			if (r == 0) {
				snprintf(group, sizeof(group), "%s%s", kind->prefix, id ? id : "");
				r = vm_virtio_add(vm, dev, group, cl, err);
			}
			if (r == 0 && kind->announce)
				r = kind->announce(cfg, i, cl, err);
			if (r < 0)
				return id ? err_wrap(err, r, "%s %s", kind->what, id)
					  : err_wrap(err, r, "%s", kind->what);
		}
	}
	return 0;
}

static bool vm_virtio_wanted(const struct vm_config *cfg)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (kinds[k].count(cfg))
			return true;
	return false;
}

int vm_virtio_create(struct vm *vm, const struct vm_config *cfg, struct cmdline *cl,
		     struct errbuf *err)
{
	if (!vm_virtio_wanted(cfg))
		return 0;
	if (!vm->loop)
		return err_set(err, -EINVAL, "virtio: the VM has no event loop");
	struct vm_virtio *vv = calloc(1, sizeof(*vv));
	if (!vv)
		return err_set(err, -ENOMEM, "virtio: out of memory");
	vm->virtio = vv;
	int r = vhub_init(&vv->hub);
	if (r < 0)
		return err_set(err, r, "virtio: epoll: %s", strerror(-r));
	vv->hub_ok = true;
	r = evloop_add(vm->loop, vv->hub.epfd, EPOLLIN, vm_virtio_on_hub, vv);
	if (r < 0)
		return err_set(err, r, "virtio: VMM event loop: %s", strerror(-r));
	vv->hub_watched = true;
	return vm_virtio_devices(vm, cfg, cl, err);
}

void vm_virtio_destroy(struct vm *vm)
{
	if (!vm || !vm->virtio)
		return;
	struct vm_virtio *vv = vm->virtio;
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
	char group[VM_DEVICE_NAME_MAX];
	snprintf(group, sizeof(group), "%s%s", kinds[0].prefix, drive_id);
	struct vm_device *d = vm ? vm_devices_find(&vm->devs, group) : NULL;
	if (!d)
		return err_set(err, -ENOENT, "drive %s: no such drive", drive_id);
	struct virtio_mmio *t = d->dev;
	return vblk_update_path(t->dev, path, err);
}
