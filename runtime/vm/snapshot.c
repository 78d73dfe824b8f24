/* Saving a VM into a snapshot, and reading back what a restore must know
 * before it builds anything (the machine, the configuration). */
#include "runtime/vm/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"
#include "runtime/vm/memfile.h"
#include "runtime/vm/vm.h"

#define SECTION_VERSION 1
/* Room for one device's or the platform's state; grown on -ENOSPC. */
#define STATE_BUF_START (64 * 1024)

static void vm_mark_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct vm *vm = opaque;
	vm_dirty_mark(&vm->dirty, &vm->mem, gpa, len);
}

static int put_machine(struct snap_writer *w, const struct vm *vm)
{
	size_t name_len = strlen(vm->be->name);
	snap_begin_section(w, "vm/machine", SECTION_VERSION);
	snap_put_u8(w, (uint8_t)name_len);
	snap_put_bytes(w, vm->be->name, name_len);
	snap_put_u32(w, vm->nr_vcpus);
	snap_put_u64(w, vm->mem.total);
	snap_put_u32(w, vm->mem.nr_regions);
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		snap_put_u64(w, vm->mem.regions[i].gpa);
		snap_put_u64(w, vm->mem.regions[i].size);
	}
	snap_put_u32(w, (uint32_t)VM_PAGE_SIZE);
	return snap_end_section(w);
}

static int put_config(struct snap_writer *w, const struct vm_config *cfg, struct errbuf *err)
{
	json_t *j = config_to_json(cfg);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return err_set(err, -ENOMEM, "configuration: out of memory");
	int r = snap_put_section(w, "vm/config", SECTION_VERSION, text, strlen(text));
	free(text);
	return r;
}

/* Calls save(ctx, buf, len) with a buffer that grows until it fits. */
static int put_state(struct snap_writer *w, const char *name,
		     int (*save)(void *ctx, void *buf, size_t len), void *ctx, struct errbuf *err)
{
	size_t len = STATE_BUF_START;
	for (;;) {
		void *buf = malloc(len);
		if (!buf)
			return err_set(err, -ENOMEM, "%s: out of memory", name);
		int n = save(ctx, buf, len);
		if (n >= 0)
			n = snap_put_section(w, name, SECTION_VERSION, buf, (size_t)n);
		free(buf);
		if (n != -ENOSPC || len >= SNAP_MAX_PAYLOAD)
			return n < 0 ? err_set(err, n, "%s: %s", name, strerror(-n)) : 0;
		len *= 2;
	}
}

struct platform_ctx {
	const struct backend_ops *be;
	struct backend_vm *bvm;
};

static int save_platform(void *opaque, void *buf, size_t len)
{
	struct platform_ctx *p = opaque;
	return p->be->platform_save(p->bvm, buf, len);
}

/* vm/platform version 2: the neutral form both backends read. */
static int put_platform(struct snap_writer *w, struct vm *vm, struct errbuf *err)
{
	struct x86_platform p;
	int r = vm->be->platform_get(vm->bvm, &p);
	if (r < 0)
		return err_set(err, r, "vm/platform: %s", strerror(-r));
	uint8_t *buf = malloc(x86_platform_size());
	if (!buf)
		return err_set(err, -ENOMEM, "vm/platform: out of memory");
	x86_platform_encode(&p, buf);
	r = snap_put_section(w, "vm/platform", X86_PLATFORM_VERSION, buf, x86_platform_size());
	free(buf);
	return r;
}

static int save_device(void *opaque, void *buf, size_t len)
{
	struct vm_device *d = opaque;
	return d->ops->save(d->dev, buf, len);
}

/* vcpu/<i>/cpuid: what the guest was shown (docs/snapshots.md). */
static int put_cpuid(struct snap_writer *w, struct vm *vm, unsigned i, struct errbuf *err)
{
	struct cpuid_entry *e = calloc(VM_SNAPSHOT_MAX_CPUID, sizeof(*e));
	if (!e)
		return err_set(err, -ENOMEM, "vCPU CPUID: out of memory");
	int n = vm->be->vcpu_get_cpuid(vm->vcpus[i].bv, e, VM_SNAPSHOT_MAX_CPUID);
	if (n < 0) {
		free(e);
		return err_set(err, n, "vCPU %u: its CPUID: %s", i, strerror(-n));
	}
	char name[32];
	snprintf(name, sizeof(name), "vcpu/%u/cpuid", i);
	snap_begin_section(w, name, SECTION_VERSION);
	snap_put_u32(w, (uint32_t)n);
	for (int k = 0; k < n; k++) {
		const uint32_t f[7] = { e[k].function, e[k].index, e[k].flags, e[k].eax,
					e[k].ebx, e[k].ecx, e[k].edx };
		for (int j = 0; j < 7; j++)
			snap_put_u32(w, f[j]);
	}
	free(e);
	return snap_end_section(w);
}

static int put_vcpus(struct snap_writer *w, struct vm *vm, struct errbuf *err)
{
	struct x86_cpu_state *st = malloc(sizeof(*st));
	if (!st)
		return err_set(err, -ENOMEM, "vCPU state: out of memory");
	int r = 0;
	for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++) {
		char name[32];
		memset(st, 0, sizeof(*st));
		r = vm->be->vcpu_save(vm->vcpus[i].bv, st);
		if (r < 0) {
			err_set(err, r, "vCPU %u: %s", i, strerror(-r));
			break;
		}
		snprintf(name, sizeof(name), "vcpu/%u", i);
		r = snap_put_section(w, name, SECTION_VERSION, st, sizeof(*st));
		if (r == 0 && vm->be->vcpu_get_cpuid)
			r = put_cpuid(w, vm, i, err);
	}
	free(st);
	return r;
}

static int put_devices(struct snap_writer *w, struct vm *vm, struct errbuf *err)
{
	for (unsigned i = 0; i < vm->devs.n; i++) {
		struct vm_device *d = &vm->devs.list[i];
		char name[SNAP_NAME_MAX + 1];
		if (!d->ops->save)
			return err_set(err, -ENOTSUP, "device %s cannot be snapshotted yet", d->name);
		snprintf(name, sizeof(name), "dev/%s", d->name);
		int r = put_state(w, name, save_device, d, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int put_state_file(struct vm *vm, const struct vm_config *cfg, const char *path,
			  struct errbuf *err)
{
	struct snap_writer w;
	struct platform_ctx p = { vm->be, vm->bvm };
	snap_writer_init(&w);
	int r = put_machine(&w, vm);
	if (r == 0)
		r = put_config(&w, cfg, err);
	if (r == 0 && (!vm->be->platform_save || !vm->be->vcpu_save))
		r = err_set(err, -ENOTSUP, "the %s backend cannot save its state yet", vm->be->name);
	if (r == 0 && vm->be->platform_get)
		r = put_platform(&w, vm, err);
	else if (r == 0)
		r = put_state(&w, "vm/platform", save_platform, &p, err);
	if (r == 0)
		r = put_vcpus(&w, vm, err);
	if (r == 0)
		r = put_devices(&w, vm, err);
	/* A writer error (sticky) carries its own message; save reports it. */
	if (r == 0 || w.error)
		r = snap_writer_save(&w, path, err);
	snap_writer_free(&w);
	return r;
}

int vm_snapshot_save(struct vm *vm, const struct vm_config *cfg,
		     const struct config_snapshot_create *req, struct errbuf *err)
{
	bool diff = req->type == CONFIG_SNAPSHOT_DIFF;
	if (!vm_is_paused(vm))
		return err_set(err, -EBUSY, "the microVM must be paused first");
	if (diff && !vm->dirty.on)
		return err_set(err, -EINVAL,
			       "Diff snapshots need dirty page tracking (track_dirty_pages)");
	/* The CPUs' writes since the last snapshot join the devices'. */
	if (vm->dirty.on) {
		int r = vm_dirty_collect(&vm->dirty, vm->be, vm->bvm);
		if (r < 0)
			return err_set(err, r, "dirty pages: %s", strerror(-r));
		for (unsigned i = 0; i < vm->devs.n; i++) {
			struct vm_device *d = &vm->devs.list[i];
			if (d->ops->written_ranges)
				d->ops->written_ranges(d->dev, vm_mark_written, vm);
		}
	}
	uint64_t written;
	int r = vm_memfile_write(&vm->mem, diff ? &vm->dirty : NULL, req->mem_file_path, &written,
				 err);
	if (r == 0)
		r = put_state_file(vm, cfg, req->snapshot_path, err);
	if (r < 0)
		return r;
	if (vm->dirty.on)
		vm_dirty_clear(&vm->dirty);
	log_info("snapshot (%s): %s, memory %s (%" PRIu64 " KiB of %" PRIu64 " written)",
		 diff ? "Diff" : "Full", req->snapshot_path, req->mem_file_path, written >> 10,
		 vm->mem.total >> 10);
	return 0;
}

/* ---- reading back ---- */

int vm_snapshot_info(const struct snap_file *snap, struct vm_snapshot_info *info,
		     struct errbuf *err)
{
	const uint8_t *data;
	size_t len;
	uint16_t version;
	if (snap_section(snap, "vm/machine", &version, &data, &len) < 0)
		return err_set(err, -EBADMSG, "no vm/machine section");
	if (version != SECTION_VERSION)
		return err_set(err, -EBADMSG, "vm/machine: version %u, this Ember reads %u",
			       version, SECTION_VERSION);
	struct snap_cursor c;
	uint8_t name_len = 0;
	uint32_t nr_vcpus = 0, nr_regions = 0, page = 0;
	memset(info, 0, sizeof(*info));
	snap_cursor_init(&c, data, len);
	snap_get_u8(&c, &name_len);
	if (name_len >= sizeof(info->backend))
		return err_set(err, -EBADMSG, "vm/machine: backend name too long");
	snap_get_bytes(&c, info->backend, name_len);
	snap_get_u32(&c, &nr_vcpus);
	snap_get_u64(&c, &info->mem_total);
	snap_get_u32(&c, &nr_regions);
	if (nr_regions > GM_MAX_REGIONS)
		return err_set(err, -EBADMSG, "vm/machine: %u memory regions", nr_regions);
	uint64_t gpa[GM_MAX_REGIONS], size[GM_MAX_REGIONS];
	for (uint32_t i = 0; i < nr_regions; i++) {
		snap_get_u64(&c, &gpa[i]);
		snap_get_u64(&c, &size[i]);
	}
	snap_get_u32(&c, &page);
	if (snap_cursor_end(&c) < 0)
		return err_set(err, -EBADMSG, "vm/machine: malformed");
	if (memchr(info->backend, 0, name_len))
		return err_set(err, -EBADMSG, "vm/machine: bad backend name");
	if (nr_vcpus < 1 || nr_vcpus > CONFIG_MAX_VCPUS)
		return err_set(err, -EBADMSG, "vm/machine: %u vCPUs", nr_vcpus);
	info->nr_vcpus = nr_vcpus;
	if (page != VM_PAGE_SIZE)
		return err_set(err, -EBADMSG, "vm/machine: page size %u", page);
	/* The layout must be the one this Ember gives that much memory. */
	struct guest_mem want;
	if (info->mem_total == 0 || info->mem_total % VM_PAGE_SIZE ||
	    info->mem_total > (CONFIG_MAX_MEM_MIB << 20) ||
	    gm_adopt(&want, (uint8_t *)VM_PAGE_SIZE, info->mem_total) < 0)
		return err_set(err, -EBADMSG, "vm/machine: memory size %" PRIu64, info->mem_total);
	bool same = want.nr_regions == nr_regions;
	for (uint32_t i = 0; same && i < nr_regions; i++)
		same = want.regions[i].gpa == gpa[i] && want.regions[i].size == size[i];
	if (!same)
		return err_set(err, -EBADMSG, "vm/machine: a memory layout this Ember does not build");
	return 0;
}

static int apply_overrides(struct vm_config *cfg, const struct config_snapshot_load *load,
			   struct errbuf *err)
{
	for (size_t i = 0; i < load->n_net_overrides; i++) {
		const struct config_net_override *o = &load->net_overrides[i];
		struct config_net *n = config_find_net(cfg, o->iface_id);
		if (!n)
			return err_set(err, -EINVAL,
				       "network_overrides: the snapshot has no interface \"%s\"",
				       o->iface_id);
		char *dev = strdup(o->host_dev_name);
		if (!dev)
			return err_set(err, -ENOMEM, "out of memory");
		free(n->host_dev_name);
		n->host_dev_name = dev;
	}
	if (load->vsock_uds_path) {
		if (!cfg->vsock.present)
			return err_set(err, -EINVAL, "vsock_override: the snapshot has no vsock device");
		char *p = strdup(load->vsock_uds_path);
		if (!p)
			return err_set(err, -ENOMEM, "out of memory");
		free(cfg->vsock.uds_path);
		cfg->vsock.uds_path = p;
	}
	cfg->machine.track_dirty_pages = load->track_dirty_pages;
	return 0;
}

int vm_snapshot_config(const struct snap_file *snap, const struct vm_snapshot_info *info,
		       const struct config_snapshot_load *load, struct vm_config *cfg,
		       struct errbuf *err)
{
	const uint8_t *data;
	size_t len;
	uint16_t version;
	if (snap_section(snap, "vm/config", &version, &data, &len) < 0)
		return err_set(err, -EBADMSG, "no vm/config section");
	if (version != SECTION_VERSION)
		return err_set(err, -EBADMSG, "vm/config: version %u, this Ember reads %u", version,
			       SECTION_VERSION);
	int r = config_load_string((const char *)data, len, cfg, err);
	if (r < 0)
		return err_wrap(err, -EBADMSG, "vm/config");
	/* The restored VM's logger and metrics are this process's own. */
	config_logger_free(&cfg->logger);
	config_metrics_free(&cfg->metrics);
	r = apply_overrides(cfg, load, err);
	if (r == 0 && (cfg->machine.vcpu_count != info->nr_vcpus ||
		       cfg->machine.mem_size_mib << 20 != info->mem_total))
		r = err_set(err, -EBADMSG, "vm/config does not match vm/machine");
	if (r < 0)
		config_free(cfg);
	return r;
}
