#include "jailer/pivot.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Binds each library onto its mount point, whatever file is there: the
 * jail belongs to the jailed user, and what an earlier VMM of this id left
 * in it must not become the next one's library. */
static int bind_libs(const char *root, const struct jail_libs *l, struct errbuf *err)
{
	for (size_t i = 0; i < l->n; i++) {
		char at[PATH_MAX];
		struct stat st;
		snprintf(at, sizeof(at), "%s%s", root, l->v[i].jail);
		if (lstat(at, &st) < 0)
			return err_set(err, -errno, "%s: %s", at, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return err_set(err, -EEXIST, "%s: not a file", at);
		if (mount(l->v[i].host, at, NULL, MS_BIND, NULL) < 0)
			return err_set(err, -errno, "binding %s on %s: %s", l->v[i].host, at,
				       strerror(errno));
		if (mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
			  NULL) < 0)
			return err_set(err, -errno, "making %s read-only: %s", at, strerror(errno));
	}
	return 0;
}

int jail_enter(const char *root, const struct jail_libs *libs, struct errbuf *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return err_set(err, -errno, "unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		return err_set(err, -errno, "making the mounts private: %s", strerror(errno));
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_set(err, -errno, "binding %s on itself: %s", root, strerror(errno));
	int r = bind_libs(root, libs, err);
	if (r < 0)
		return r;
	if (chdir(root) < 0)
		return err_set(err, -errno, "chdir %s: %s", root, strerror(errno));
	/* pivot_root(2): new and old root may be the same directory; the old
	 * root then sits on top of the new one until it is detached. No
	 * "old_root" directory is needed in the jail. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return err_set(err, -errno, "pivot_root into %s: %s", root, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return err_set(err, -errno, "detaching the old root: %s", strerror(errno));
	if (chdir("/") < 0 || chroot(".") < 0)
		return err_set(err, -errno, "chroot into the jail: %s", strerror(errno));
	return 0;
}
