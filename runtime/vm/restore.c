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

static int restore_platform(struct vm *vm, const struct snap_file *snap, bool clock_realtime,
			    struct errbuf *err)
{
	const uint8_t *data;
	size_t len;
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

static int restore_vcpus(struct vm *vm, const struct snap_file *snap, struct errbuf *err)
{
	/* The section may sit anywhere in the file: copy it aligned. */
	struct x86_cpu_state *st = malloc(sizeof(*st));
	if (!st)
		return err_set(err, -ENOMEM, "vCPU state: out of memory");
	int r = 0;
	for (unsigned i = 0; r == 0 && i < vm->nr_vcpus; i++) {
		char name[32];
		const uint8_t *data;
		size_t len;
		snprintf(name, sizeof(name), "vcpu/%u", i);
		r = section(snap, name, &data, &len, err);
		if (r == 0 && len != sizeof(*st))
			r = err_set(err, -EBADMSG, "%s: %zu bytes, expected %zu", name, len,
				    sizeof(*st));
		if (r == 0) {
			memcpy(st, data, sizeof(*st));
			r = vm->be->vcpu_restore(vm->vcpus[i].bv, st);
			if (r < 0)
				err_set(err, r, "%s: %s", name, strerror(-r));
		}
	}
	free(st);
	return r;
}

/* Every device the configuration built has its section, and every device
 * section has its device: a mismatch is a snapshot this VM is not. */
static int restore_devices(struct vm *vm, const struct snap_file *snap, struct errbuf *err)
{
	unsigned seen = 0;
	for (uint32_t i = 0; i < snap->nr_sections; i++)
		seen += strncmp(snap_section_at(snap, i)->name, "dev/", 4) == 0;
	if (seen != vm->devs.n)
		return err_set(err, -EBADMSG, "%u device sections for %u devices", seen, vm->devs.n);
	for (unsigned i = 0; i < vm->devs.n; i++) {
		struct vm_device *d = &vm->devs.list[i];
		char name[SNAP_NAME_MAX + 1];
		const uint8_t *data;
		size_t len;
		snprintf(name, sizeof(name), "dev/%s", d->name);
		int r = section(snap, name, &data, &len, err);
		if (r == 0 && !d->ops->restore)
			r = err_set(err, -ENOTSUP, "device %s cannot be restored yet", d->name);
		if (r == 0 && (r = d->ops->restore(d->dev, data, len)) < 0)
			err_set(err, r, "%s: %s", name, strerror(-r));
		if (r < 0)
			return r;
	}
	return 0;
}

static int restore_build(struct vm *vm, const struct backend_ops *be, const struct vm_opts *opts,
			 const struct vm_config *cfg, const struct config_snapshot_load *load,
			 struct errbuf *err)
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
		.cpu_template = cfg->machine.cpu_template,
		.cpu_config = cfg->cpu_config,
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
	int r = restore_build(vm, be, opts, cfg, load, err);
	if (r < 0) {
		if (vm->be)
			vm_destroy(vm);
		return r;
	}
	/* Firecracker's order: the vCPUs (their local APICs) before the
	 * VM-wide interrupt controllers and timers, the devices last (a
	 * pending interrupt is raised again through the restored
	 * controllers). */
	r = restore_vcpus(vm, snap, err);
	if (r == 0)
		r = restore_platform(vm, snap, load->clock_realtime, err);
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
