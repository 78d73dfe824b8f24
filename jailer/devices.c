#include "jailer/devices.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void devices_probe(struct jail_dev devs[JAIL_NDEVS])
{
	static const char *const paths[JAIL_NDEVS] = { "/dev/kvm", "/dev/net/tun",
						       "/dev/userfaultfd" };
	for (size_t i = 0; i < JAIL_NDEVS; i++) {
		struct stat st;
		devs[i].path = paths[i];
		devs[i].present = stat(paths[i], &st) == 0 && S_ISCHR(st.st_mode);
		devs[i].rdev = devs[i].present ? st.st_rdev : 0;
	}
}

int devices_make(const struct jail_dev devs[JAIL_NDEVS], uid_t uid, gid_t gid,
		 const char *host_root, struct undo *u, struct errbuf *err)
{
	for (size_t i = 0; i < JAIL_NDEVS; i++) {
		const struct jail_dev *d = &devs[i];
		struct stat st;
		if (!d->present) {
			fprintf(stderr, "ember-jailer: %s: not on this host, not made in the jail\n",
				d->path);
			continue;
		}
		bool existed = lstat(d->path, &st) == 0;
		if (existed && unlink(d->path) < 0)
			return err_set(err, -errno, "%s (in the jail): %s", d->path, strerror(errno));
		if (mknod(d->path, S_IFCHR | 0600, d->rdev) < 0)
			return err_set(err, -errno, "mknod %s (%u:%u) in the jail: %s", d->path,
				       major(d->rdev), minor(d->rdev), strerror(errno));
		if (!existed) {
			char host[PATH_MAX];
			snprintf(host, sizeof(host), "%s%s", host_root, d->path);
			int r = undo_add(u, UNDO_UNLINK, host);
			if (r < 0)
				return err_set(err, r, "out of memory");
		}
		if (chown(d->path, uid, gid) < 0 || chmod(d->path, 0600) < 0)
			return err_set(err, -errno, "%s (in the jail): %s", d->path, strerror(errno));
	}
	return 0;
}
