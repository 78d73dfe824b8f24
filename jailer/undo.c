#include "jailer/undo.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int undo_init(struct undo *u)
{
	memset(u, 0, sizeof(*u));
	u->mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (u->mntns < 0)
		return -errno;
	u->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return u->rootfd < 0 ? -errno : 0;
}

int undo_add(struct undo *u, enum undo_kind kind, const char *path)
{
	if (u->n == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 16;
		struct undo_entry *e = realloc(u->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		u->e = e;
		u->cap = cap;
	}
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	u->e[u->n++] = (struct undo_entry){ kind, p };
	return 0;
}

static int undo_one(int rootfd, const struct undo_entry *e)
{
	const char *rel = e->path;
	while (*rel == '/')
		rel++;
	switch (e->kind) {
	case UNDO_UNLINK:
		return unlinkat(rootfd, rel, 0);
	case UNDO_RMDIR:
		return unlinkat(rootfd, rel, AT_REMOVEDIR);
	case UNDO_MOVE: {
		int fd = openat(rootfd, rel, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		ssize_t w = write(fd, "0", 1);
		close(fd);
		return w == 1 ? 0 : -1;
	}
	}
	return -1;
}

static void undo_free(struct undo *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->e[i].path);
	free(u->e);
	u->e = NULL;
	u->n = u->cap = 0;
}

size_t undo_run(struct undo *u)
{
	size_t failed = 0;
	if (u->n && u->mntns >= 0)
		setns(u->mntns, CLONE_NEWNS); /* a no-op before the unshare */
	for (size_t i = u->n; i-- > 0;)
		if (u->rootfd < 0 || undo_one(u->rootfd, &u->e[i]) < 0)
			failed++;
	undo_free(u);
	return failed;
}

void undo_done(struct undo *u)
{
	undo_free(u);
	if (u->rootfd >= 0)
		close(u->rootfd);
	if (u->mntns >= 0)
		close(u->mntns);
	u->rootfd = u->mntns = -1;
}
