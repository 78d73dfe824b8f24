/* runtime/vm/virtio.c: devices from the config, their MMIO slots and IRQs
 * on the command line, root= for the root drive, counters. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "runtime/vm/vm.h"
#include "runtime/vm/virtio.h"
#include "tests/unit/test_virtio_util.h"

static struct vm vm;
static struct evloop loop;
/* No ioeventfd / irqfd, and ISA lines only: like the TCG backend. */
static int fake_irq(struct backend_vm *bvm, unsigned gsi, bool level)
{
	(void)bvm;
	(void)level;
	return gsi > 15 ? -EINVAL : 0;
}

static int fake_irq_all(struct backend_vm *bvm, unsigned gsi, bool level)
{
	(void)bvm;
	(void)gsi;
	(void)level;
	return 0;
}

static struct backend_ops be = { .name = "fake", .set_irq_line = fake_irq };
static struct vm_config cfg;
static struct cmdline cl;
static char disk[2][64], sock[64];

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	cr_assert_eq(evloop_init(&loop), 0);
	vm.loop = &loop;
	vm.be = &be;
	cr_assert_eq(gm_alloc(&vm.mem, 16 << 20), 0);
	bus_init(&vm.mmio, "mmio");
	config_init(&cfg);
	for (int i = 0; i < 2; i++) {
		snprintf(disk[i], sizeof(disk[i]), "/tmp/ember-vmv-XXXXXX");
		int fd = mkstemp(disk[i]);
		cr_assert_eq(ftruncate(fd, 1 << 20), 0);
		close(fd);
	}
	snprintf(sock, sizeof(sock), "/tmp/ember-vmv-%d.sock", getpid());
	unlink(sock);
}

static void teardown(void)
{
	vm_devices_destroy(&vm.devs);
	vm_virtio_destroy(&vm);
	cr_expect_null(vm.virtio);
	bus_destroy(&vm.mmio);
	gm_free(&vm.mem);
	evloop_destroy(&loop);
	config_free(&cfg);
	unlink(disk[0]);
	unlink(disk[1]);
	unlink(sock);
}

TestSuite(vm_virtio, .init = setup, .fini = teardown);

static void add_drive(const char *id, const char *path, bool root, bool ro, const char *partuuid)
{
	struct config_drive d = { .drive_id = strdup(id), .path_on_host = strdup(path),
				  .is_root_device = root, .is_read_only = ro,
				  .partuuid = partuuid ? strdup(partuuid) : NULL };
	struct errbuf err;
	cr_assert_eq(config_drive_insert(&cfg, &d, false, &err), 0, "%s", err.msg);
}

static int create(const char *boot_args)
{
	struct errbuf err = { "" };
	cr_assert_eq(cmdline_init(&cl, boot_args, &err), 0);
	int r = vm_virtio_create(&vm, &cfg, &cl, &err);
	if (r < 0)
		cr_log_info("%s", err.msg);
	return r;
}

Test(vm_virtio, nothing_configured_builds_nothing)
{
	cr_expect_eq(create("console=ttyS0"), 0);
	cr_expect_null(vm.virtio);
	cr_expect_str_eq(cl.buf, "console=ttyS0");
}

Test(vm_virtio, slots_irqs_and_root)
{
	add_drive("data", disk[1], false, true, NULL);
	add_drive("rootfs", disk[0], true, false, NULL); /* config puts it first */
	cfg.entropy.present = true;
	cfg.vsock = (struct config_vsock){ .present = true, .guest_cid = 3,
					   .uds_path = strdup(sock) };
	cr_assert_eq(create("console=ttyS0"), 0);
	cr_expect_str_eq(cl.buf, "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 root=/dev/vda rw "
				 "virtio_mmio.device=4K@0xd0001000:6 "
				 "virtio_mmio.device=4K@0xd0002000:7 "
				 "virtio_mmio.device=4K@0xd0003000:9");
	uint32_t v;
	cr_expect_eq(bus_read(&vm.mmio, 0xd0000008, &v, 4), 0);
	cr_expect_eq(v, 2); /* block */
	cr_expect_eq(bus_read(&vm.mmio, 0xd0002008, &v, 4), 0);
	cr_expect_eq(v, 19); /* vsock */
	cr_expect_eq(bus_read(&vm.mmio, 0xd0003008, &v, 4), 0);
	cr_expect_eq(v, 4); /* rng */
	cr_expect_eq(access(sock, F_OK), 0);
}

/* With ACPI on, each slot becomes a DSDT entry and nothing goes on the
 * command line but root=. */
Test(vm_virtio, acpi_announces_in_the_dsdt_only)
{
	add_drive("rootfs", disk[0], true, false, NULL);
	cfg.entropy.present = true;
	vm.acpi.on = true;
	cr_assert_eq(create("console=ttyS0"), 0);
	cr_expect_str_eq(cl.buf, "console=ttyS0 root=/dev/vda rw");
	cr_assert_eq(vm.acpi.n, 2);
	for (unsigned i = 0; i < 2; i++) {
		const struct acpi_dev_desc *d = &vm.acpi.devs[i];
		cr_expect_str_eq(d->hid, "LNRO0005");
		cr_expect_eq(d->uid, i);
		cr_expect_eq(d->mmio_base, 0xd0000000u + i * 0x1000u);
		cr_expect_eq(d->mmio_len, 0x1000);
		cr_expect_eq(d->irq, 5 + (int)i);
		cr_expect(d->irq_extended);
	}
	cr_expect_str_eq(vm.acpi.devs[1].name, "V001");
}

Test(vm_virtio, root_partuuid_read_only)
{
	add_drive("rootfs", disk[0], true, true, "0eaa91a0-01");
	cr_assert_eq(create(NULL), 0);
	cr_expect_str_eq(cl.buf, "virtio_mmio.device=4K@0xd0000000:5 root=PARTUUID=0eaa91a0-01 ro");
}

Test(vm_virtio, boot_args_root_wins)
{
	add_drive("rootfs", disk[0], true, false, NULL);
	cr_assert_eq(create("root=/dev/vdb"), 0);
	cr_expect_str_eq(cl.buf, "root=/dev/vdb virtio_mmio.device=4K@0xd0000000:5");
}

Test(vm_virtio, missing_backing_file_fails_cleanly)
{
	add_drive("rootfs", disk[0], true, false, NULL);
	add_drive("gone", "/nonexistent/disk.img", false, false, NULL);
	cr_expect_lt(create(NULL), 0);
	/* Partially built: teardown's destroy must cope. */
}

Test(vm_virtio, irq_lines_run_out_on_isa_only_backend)
{
	for (int i = 0; i < 12; i++) {
		char id[16];
		snprintf(id, sizeof(id), "d%d", i);
		add_drive(id, disk[1], false, true, NULL);
	}
	cr_expect_eq(create(NULL), -EINVAL); /* the 12th device would be on IRQ 16 */
}

Test(vm_virtio, too_many_devices)
{
	be.set_irq_line = fake_irq_all; /* a backend with all 24 lines */
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "d%d", i);
		add_drive(id, disk[1], false, true, NULL);
	}
	cr_expect_eq(create(NULL), -ENOSPC);
}

struct counter_seen {
	int n;
	bool read_count, entropy_bytes;
};

static void count(void *ctx, const char *section, const char *name, uint64_t value)
{
	struct counter_seen *s = ctx;
	(void)value;
	s->n++;
	if (!strcmp(section, "block_rootfs") && !strcmp(name, "read_count"))
		s->read_count = true;
	if (!strcmp(section, "entropy") && !strcmp(name, "entropy_bytes"))
		s->entropy_bytes = true;
}

Test(vm_virtio, counters)
{
	add_drive("rootfs", disk[0], true, false, NULL);
	cfg.entropy.present = true;
	cr_assert_eq(create(NULL), 0);
	struct counter_seen s = { 0 };
	vm_counters(&vm, count, &s);
	cr_expect(s.read_count);
	cr_expect(s.entropy_bytes);
	cr_expect_gt(s.n, 10);
}

Test(vm_virtio, update_drive)
{
	add_drive("rootfs", disk[0], true, false, NULL);
	add_drive("data", disk[1], false, false, NULL);
	cr_assert_eq(create(NULL), 0);
	struct errbuf err;
	cr_expect_eq(vm_virtio_update_drive(&vm, "nope", disk[0], &err), -ENOENT);
	cr_expect_eq(vm_virtio_update_drive(&vm, "data", disk[0], &err), 0, "%s", err.msg);
	cr_expect_lt(vm_virtio_update_drive(&vm, "data", "/nonexistent", &err), 0);
}

/* What the VM's snapshot does with its device list: every device saves
 * through its ops; a VM built again from the same configuration (the old
 * one gone, its vsock socket with it) takes each blob back by name. */
Test(vm_virtio, every_device_saves_and_a_new_vm_restores_it)
{
	add_drive("rootfs", disk[0], true, false, NULL);
	add_drive("data", disk[1], false, true, NULL);
	cfg.entropy.present = true;
	cfg.vsock = (struct config_vsock){ .present = true, .guest_cid = 3,
					   .uds_path = strdup(sock) };
	cr_assert_eq(create(NULL), 0);
	static struct {
		char name[VM_DEVICE_NAME_MAX];
		uint8_t blob[1024];
		int len;
	} saved[4];
	cr_assert_eq(vm.devs.n, 4);
	for (unsigned i = 0; i < vm.devs.n; i++) {
		struct vm_device *d = &vm.devs.list[i];
		cr_assert_not_null(d->ops->save, "%s", d->name);
		saved[i].len = d->ops->save(d->dev, saved[i].blob, sizeof(saved[i].blob));
		cr_assert_gt(saved[i].len, 0, "%s: %d", d->name, saved[i].len);
		strcpy(saved[i].name, d->name);
	}
	vm_devices_destroy(&vm.devs);
	vm_virtio_destroy(&vm);
	bus_destroy(&vm.mmio);
	bus_init(&vm.mmio, "mmio");
	cr_assert_eq(create(NULL), 0);
	for (unsigned i = 0; i < 4; i++) {
		struct vm_device *d = vm_devices_find(&vm.devs, saved[i].name);
		cr_assert_not_null(d, "%s", saved[i].name);
		cr_expect_eq(d->ops->restore(d->dev, saved[i].blob, (size_t)saved[i].len - 1), -EINVAL);
		cr_expect_eq(d->ops->restore(d->dev, saved[i].blob, (size_t)saved[i].len), 0, "%s",
			     saved[i].name);
	}
	/* A blob under another device's name is refused. */
	struct vm_device *rng = vm_devices_find(&vm.devs, "entropy");
	cr_expect_eq(rng->ops->restore(rng->dev, saved[0].blob, (size_t)saved[0].len), -EINVAL);
}
