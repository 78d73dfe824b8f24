#include "runtime/vm/host_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/net.h"

static bool kind_ok(const struct stat *st, bool block_ok)
{
	return S_ISREG(st->st_mode) || (block_ok && S_ISBLK(st->st_mode));
}

/* Opens path with flags and checks its kind: a regular file, or for a
 * drive a block device too. The kind is checked before the open as well:
 * opening a FIFO for reading would wait for a writer on the VMM thread,
 * and opening some character devices (a watchdog) is itself an action. */
static int check_file(const char *field, const char *path, int flags, bool block_ok,
		      const char *mode, struct errbuf *err)
{
	const char *kind = block_ok ? "not a regular file or block device" : "not a regular file";
	struct stat st;
	if (stat(path, &st) < 0)
		return err_set(err, -errno, "%s %s: cannot open it %s: %s", field, path, mode,
			       strerror(errno));
	if (!kind_ok(&st, block_ok))
		return err_set(err, -EINVAL, "%s %s: %s", field, path, kind);
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return err_set(err, -errno, "%s %s: cannot open it %s: %s", field, path, mode,
			       strerror(errno));
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = err_set(err, -errno, "%s %s: %s", field, path, strerror(errno));
	else if (!kind_ok(&st, block_ok))
		r = err_set(err, -EINVAL, "%s %s: %s", field, path, kind);
	close(fd);
	return r;
}

int host_check_boot(const struct config_boot *b, struct errbuf *err)
{
	int r = check_file("kernel_image_path", b->kernel_image_path, O_RDONLY, false,
			   "for reading", err);
	if (r == 0 && b->initrd_path)
		r = check_file("initrd_path", b->initrd_path, O_RDONLY, false, "for reading",
			       err);
	return r;
}

int host_check_drive(const struct config_drive *d, struct errbuf *err)
{
	/* As virtio-blk will: read-write unless is_read_only, so a file the
	 * process may only read fails now rather than at InstanceStart. */
	if (d->is_read_only)
		return check_file("path_on_host", d->path_on_host, O_RDONLY, true,
				  "for reading (is_read_only true)", err);
	return check_file("path_on_host", d->path_on_host, O_RDWR, true,
			  "for reading and writing (is_read_only false)", err);
}

int host_check_net(const struct config_net *n, struct errbuf *err)
{
	int r = vnet_check_tap(n, err);
	return r < 0 ? err_wrap(err, r, "host_dev_name") : 0;
}

int host_check_vsock(const struct config_vsock *v, struct errbuf *err)
{
	/* The socket itself is bound when the device is built; its directory
	 * must be there already. */
	const char *slash = strrchr(v->uds_path, '/');
	char *dir = slash ? strndup(v->uds_path, slash == v->uds_path ? 1 : (size_t)(slash - v->uds_path))
			  : strdup(".");
	if (!dir)
		return err_set(err, -ENOMEM, "out of memory");
	struct stat st;
	int r = 0;
	if (stat(dir, &st) < 0)
		r = err_set(err, -errno, "uds_path %s: directory %s: %s", v->uds_path, dir,
			    strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		r = err_set(err, -ENOTDIR, "uds_path %s: %s is not a directory", v->uds_path, dir);
	free(dir);
	return r;
}

int host_check_config(const struct vm_config *cfg, struct errbuf *err)
{
	int r;
	if (cfg->snapshot_load)
		return 0;
	if (cfg->boot.kernel_image_path && (r = host_check_boot(&cfg->boot, err)) < 0)
		return err_wrap(err, r, "boot-source");
	for (size_t i = 0; i < cfg->n_drives; i++)
		if ((r = host_check_drive(&cfg->drives[i], err)) < 0)
			return err_wrap(err, r, "drives[%zu] (%s)", i, cfg->drives[i].drive_id);
	for (size_t i = 0; i < cfg->n_nets; i++)
		if ((r = host_check_net(&cfg->nets[i], err)) < 0)
			return err_wrap(err, r, "network-interfaces[%zu] (%s)", i,
					cfg->nets[i].iface_id);
	if (cfg->vsock.present && (r = host_check_vsock(&cfg->vsock, err)) < 0)
		return err_wrap(err, r, "vsock");
	return 0;
}
