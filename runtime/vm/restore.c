/* The second builder: a VM from a snapshot instead of a kernel. It shares
 * the build steps (runtime/vm/build.h) and then loads each component's
 * state, every one of which checks what it is given: the files are not
 * trusted. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/base/log.h"
#include "runtime/boot/cmdline.h"
#include "runtime/vm/build.h"
#include "runtime/vm/snapshot.h"
#include "runtime/vm/uffd.h"
#include "runtime/vm/virtio.h"

#define SECTION_VERSION 1

static int section(const struct snap_file *snap, const char *name, const uint8_t **data,
		   size_t *len, struct errbuf *err)
{
	uint16_t version;
	if (snap_section(snap, name, &version, data, len) < 0)
		return err_set(err, -EBADMSG, "no %s section", name);
	if (version != SECTION_VERSION)
		return err_set(err, -EBADMSG, "%s: version %u, this Ember reads %u", name, version,
			       SECTION_VERSION);
	return 0;
}

static int map_memory_file(const char *path, uint64_t total, struct guest_mem *mem,
			   struct errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "memory file %s: %s", path, strerror(errno));
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = err_set(err, -EINVAL, "memory file %s: not a regular file", path);
	else if (r == 0 && (uint64_t)st.st_size < total)
		r = err_set(err, -EINVAL,
			    "memory file %s: %" PRIu64 " bytes, shorter than the guest's memory (%" PRIu64
			    ")",
			    path, (uint64_t)st.st_size, total);
	else if (r == 0 && (r = gm_map_file(mem, fd, total)) < 0)
		err_set(err, r, "memory file %s: %s", path, strerror(-r));
	else if (r < 0)
		err_set(err, r, "memory file %s: %s", path, strerror(-r));
	close(fd);
	return r;
}

static int restore_memory(const struct config_snapshot_load *load, uint64_t total,
			  struct guest_mem *mem, int *uffd, int *conn, struct errbuf *err)
{
	*uffd = -1;
	*conn = -1;
	if (load->mem_backend == CONFIG_MEM_FILE)
		return map_memory_file(load->mem_path, total, mem, err);
	int r = gm_alloc(mem, total);
	if (r < 0)
		return err_set(err, r, "guest memory: %s", strerror(-r));
	r = vm_uffd_attach(mem, load->mem_path, uffd, conn, err);
	if (r < 0)
		gm_free(mem);
	return r;
}

/* Version 2, the neutral form, restores on either backend. */
static int restore_platform_neutral(struct vm *vm, const uint8_t *data, size_t len,
				    struct errbuf *err)
{
	struct x86_platform p;
	int r = x86_platform_decode(data, len, &p, err);
	if (r < 0)
		return err_wrap(err, r, "vm/platform");
	if (!vm->be->platform_set)
		return err_set(err, -ENOTSUP, "vm/platform: the %s backend cannot restore it",
			       vm->be->name);
	r = vm->be->platform_set(vm->bvm, &p, err);
	return r < 0 ? err_wrap(err, r, "vm/platform") : 0;
}

static int restore_platform(struct vm *vm, const struct snap_file *snap, const char *from,
			    bool clock_realtime, struct errbuf *err)
{
	const uint8_t *data;
	size_t len;
	uint16_t version;
	if (snap_section(snap, "vm/platform", &version, &data, &len) < 0)
		return err_set(err, -EBADMSG, "no vm/platform section");
	if (version == X86_PLATFORM_VERSION)
		return restore_platform_neutral(vm, data, len, err);
	if (strcmp(from, vm->be->name) != 0)
		return err_set(err, -ENOTSUP,
			       "vm/platform: version %u is %s's own layout (an older Ember's "
			       "snapshot), which restores only on %s",
			       version, from, from);
	int r = section(snap, "vm/platform", &data, &len, err);
	if (r == 0 && !vm->be->platform_restore)
		r = err_set(err, -ENOTSUP, "the %s backend cannot restore its state yet",
			    vm->be->name);
	if (r == 0 && (r = vm->be->platform_restore(vm->bvm, data, len)) < 0) {
		/* The backend logged the reason; the answer names the option. */
		if (r == -ENOTSUP && clock_realtime)
			err_set(err, r, "vm/platform: clock_realtime: the %s backend cannot advance "
				"this snapshot's clocks here (the log says why)", vm->be->name);
		else
			err_set(err, r, "vm/platform: %s", strerror(-r));
	}
	return r;
}

/* vcpu/<i>/cpuid: a count, then function, index, flags, eax..edx each. */
static int decode_cpuid(const uint8_t *data, size_t len, struct cpuid_entry *e, size_t *n,
			struct errbuf *err)
{
	struct snap_cursor c;
	uint32_t count = 0;
	snap_cursor_init(&c, data, len);
	snap_get_u32(&c, &count);
	if (count > VM_SNAPSHOT_MAX_CPUID || count > snap_cursor_left(&c) / 28)
		return err_set(err, -EBADMSG, "%u entries", count);
	for (uint32_t k = 0; k < count; k++) {
		uint32_t *f[7] = { &e[k].function, &e[k].index, &e[k].flags, &e[k].eax,
				   &e[k].ebx,	   &e[k].ecx,	&e[k].edx };
		for (int j = 0; j < 7; j++)
			snap_get_u32(&c, f[j]);
		if (e[k].flags & ~(uint32_t)CPUID_FLAGS_KNOWN)
			return err_set(err, -EBADMSG, "entry %u: flags 0x%x", k, e[k].flags);
	}
	if (snap_cursor_end(&c) < 0)
		return err_set(err, -EBADMSG, "malformed");
	*n = count;
	return 0;
}

/* The saved CPUID onto the vCPU, checked by the backend. A snapshot
 * without one (an older Ember's) keeps what vcpu_create set, which is
 * what it was taken with only on the same backend. */
static int restore_cpuid(struct vm *vm, const struct snap_file *snap, unsigned i,
			 const char *from, struct cpuid_entry *e, struct errbuf *err)
{
	char name[32];
	const uint8_t *data;
	size_t len, n = 0;
	snprintf(name, sizeof(name), "vcpu/%u/cpuid", i);
	bool cross = strcmp(from, vm->be->name) != 0;
	uint16_t version;
	if (snap_section(snap, name, &version, &data, &len) < 0) {
		if (cross)
			return err_set(err, -ENOTSUP,
				       "no %s section (an older Ember's snapshot): it restores "
				       "only on %s",
				       name, from);
		return 0;
	}
	int r = version != SECTION_VERSION
			? err_set(err, -EBADMSG, "version %u, this Ember reads %u", version,
				  SECTION_VERSION)
			: decode_cpuid(data, len, e, &n, err);
	if (r == 0 && !vm->be->vcpu_set_cpuid)
		r = err_set(err, -ENOTSUP, "the %s backend cannot present a saved CPUID",
			    vm->be->name);
	if (r == 0)
		r = vm->be->vcpu_set_cpuid(vm->vcpus[i].bv, e, n, from, err);
	return r < 0 ? err_wrap(err, r, "vcpu/%u", i) : 0;
}

static int restore_vcpu(struct vm *vm, const struct snap_file *snap, unsigned i,
			const char *from, struct x86_cpu_state *st, struct errbuf *err)
{
	char name[32];
	const uint8_t *data;
	size_t len;
	snprintf(name, sizeof(name), "vcpu/%u", i);
	int r = section(snap, name, &data, &len, err);
	if (r == 0 && len != sizeof(*st))
		r = err_set(err, -EBADMSG, "%s: %zu bytes, expected %zu", name, len, sizeof(*st));
	if (r < 0)
		return r;
	/* The section may sit anywhere in the file: copy it aligned. */
	memcpy(st, data, sizeof(*st));
	if (strcmp(from, vm->be->name) != 0) {
		r = vm->be->vcpu_import ? vm->be->vcpu_import(vm->vcpus[i].bv, st, from, err)
					: err_set(err, -ENOTSUP, "the %s backend cannot take "
								 "another's vCPU state",
						  vm->be->name);
		if (r < 0)
			return err_wrap(err, r, "%s", name);
	}
	r = vm->be->vcpu_restore(vm->vcpus[i].bv, st);
	return r < 0 ? err_set(err, r, "%s: %s", name, strerror(-r)) : 0;
}

static int restore_vcpus(struct vm *vm, const struct snap_file *snap, const char *from,
			 struct errbuf *err)
{
	struct x86_cpu_state *st = malloc(sizeof(*st));
	struct cpuid_entry *e = calloc(VM_SNAPSHOT_MAX_CPUID, sizeof(*e));
	int r = st && e ? 0 : err_set(err, -ENOMEM, "vCPU state: out of memory");
	/* Every vCPU's CPUID first: a refusal names the feature before any
	 * state is applied. */
	for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++)
		r = restore_cpuid(vm, snap, i, from, e, err);
	for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++)
		r = restore_vcpu(vm, snap, i, from, st, err);
	free(e);
	free(st);
	return r;
}

/* Every device the configuration built has its section, and every device
 * section has its device: a mismatch is a snapshot this VM is not. A
 * device an older Ember did not have may lack its section. */
static int restore_devices(struct vm *vm, const struct snap_file *snap, struct errbuf *err)
{
	unsigned seen = 0, matched = 0;
	for (uint32_t i = 0; i < snap->nr_sections; i++)
		seen += strncmp(snap_section_at(snap, i)->name, "dev/", 4) == 0;
	for (unsigned i = 0; i < vm->devs.n; i++) {
		struct vm_device *d = &vm->devs.list[i];
		char name[SNAP_NAME_MAX + 1];
		const uint8_t *data;
		size_t len;
		uint16_t version;
		snprintf(name, sizeof(name), "dev/%s", d->name);
		if (d->ops->absent_is_power_on && snap_section(snap, name, &version, &data, &len) < 0) {
			log_warn("snapshot load: no %s section (an older Ember's snapshot): %s starts "
				 "as at power-on",
				 name, d->name);
			continue;
		}
		int r = section(snap, name, &data, &len, err);
		if (r == 0 && !d->ops->restore)
			r = err_set(err, -ENOTSUP, "device %s cannot be restored yet", d->name);
		if (r == 0 && (r = d->ops->restore(d->dev, data, len)) < 0)
			err_set(err, r, "%s: %s", name, strerror(-r));
		if (r < 0)
			return r;
		matched++;
	}
	if (seen == matched)
		return 0;
	for (uint32_t i = 0; i < snap->nr_sections; i++) {
		const char *name = snap_section_at(snap, i)->name;
		unsigned k = 0;
		while (strncmp(name, "dev/", 4) == 0 && k < vm->devs.n &&
		       strcmp(name + 4, vm->devs.list[k].name) != 0)
			k++;
		if (k == vm->devs.n)
			return err_set(err, -EBADMSG, "%s: this VM has no such device", name);
	}
	return err_set(err, -EBADMSG, "%u device sections for %u devices", seen, matched);
}

static int restore_build(struct vm *vm, const struct backend_ops *be, const struct vm_opts *opts,
			 const struct vm_config *cfg, const struct config_snapshot_load *load,
			 bool cross, struct errbuf *err)
{
	struct guest_mem mem;
	int uffd, conn;
	uint64_t total = cfg->machine.mem_size_mib << 20;
	int r = restore_memory(load, total, &mem, &uffd, &conn, err);
	if (r < 0)
		return r; /* nothing built: vm is untouched */
	struct vm_machine_spec spec = {
		.nr_vcpus = cfg->machine.vcpu_count,
		.mem_bytes = total,
		/* Across backends the saved CPUID, which the template shaped
		 * on the source, replaces the table anyway; the template was
		 * made for the source's CPU (its leaves, its MSRs). */
		.cpu_template = cross ? CONFIG_CPU_TEMPLATE_NONE : cfg->machine.cpu_template,
		.cpu_config = cross ? NULL : cfg->cpu_config,
		.track_dirty = cfg->machine.track_dirty_pages,
		.clock_realtime = load->clock_realtime,
		.mem = &mem,
		.uffd = uffd,
		.uffd_conn = conn,
	};
	r = vm_build_machine(vm, be, opts, &spec, err);
	if (r < 0)
		return r;
	/* Devices announce themselves on a command line nobody reads now. */
	struct cmdline *cl = malloc(sizeof(*cl));
	if (!cl)
		return err_set(err, -ENOMEM, "out of memory");
	r = cmdline_init(cl, NULL, err);
	if (r == 0)
		r = vm_build_legacy(vm, err);
	if (r == 0)
		r = vm_virtio_create(vm, cfg, cl, err);
	free(cl);
	if (r == 0)
		r = vm_build_vcpus(vm, err);
	return r;
}

int vm_restore(struct vm *vm, const struct backend_ops *be, const struct vm_opts *opts,
	       const struct snap_file *snap, const struct vm_config *cfg,
	       const struct config_snapshot_load *load, struct errbuf *err)
{
	/* Marks vm as not built, so a failure before the machine exists
	 * leaves nothing for vm_destroy to free. */
	vm->be = NULL;
	struct vm_snapshot_info info;
	int r = vm_snapshot_info(snap, &info, err);
	if (r < 0)
		return r;
	r = restore_build(vm, be, opts, cfg, load, strcmp(info.backend, be->name) != 0, err);
	if (r < 0) {
		if (vm->be)
			vm_destroy(vm);
		return r;
	}
	/* Firecracker's order: the vCPUs (their local APICs) before the
	 * VM-wide interrupt controllers and timers, the devices last (a
	 * pending interrupt is raised again through the restored
	 * controllers). */
	r = restore_vcpus(vm, snap, info.backend, err);
	if (r == 0)
		r = restore_platform(vm, snap, info.backend, load->clock_realtime, err);
	if (r == 0)
		r = restore_devices(vm, snap, err);
	/* No vCPU thread runs yet: the pause only arms the gate, so they
	 * park as soon as vm_start starts them. */
	if (r == 0)
		r = vm_pause(vm);
	if (r < 0)
		vm_destroy(vm);
	return r;
}
