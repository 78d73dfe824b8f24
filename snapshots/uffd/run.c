/* The handler from start to end: the file, the socket, one VMM. */
#include "snapshots/uffd/handler.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Private and read-only: the handler never writes the file, and handlers
 * of several VMMs restored from it share its page cache. */
static int map_file(const char *path, const uint8_t **map, uint64_t *size, struct errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "memory file %s: %s", path, strerror(errno));
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r < 0)
		err_set(err, r, "memory file %s: %s", path, strerror(-r));
	else if (!S_ISREG(st.st_mode))
		r = err_set(err, -EINVAL, "memory file %s: not a regular file", path);
	else if (st.st_size < UFFD_PAGE)
		r = err_set(err, -EINVAL, "memory file %s: shorter than a page", path);
	void *m = MAP_FAILED;
	if (r == 0 && (m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) ==
			      MAP_FAILED)
		r = err_set(err, -errno, "memory file %s: mmap: %s", path, strerror(errno));
	close(fd);
	if (r < 0)
		return r;
	*map = m;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int handshake(int conn, uint64_t file_size, struct uffd_layout *l, int *uffd,
		     struct errbuf *err)
{
	char *buf = malloc(UFFD_MSG_MAX + 1); /* one more: a longer message shows */
	if (!buf)
		return err_set(err, -ENOMEM, "out of memory");
	size_t len = 0;
	int r = uffd_receive(conn, UFFD_MSG_TIMEOUT_MS, buf, UFFD_MSG_MAX + 1, &len, uffd, err);
	if (r == 0 && (r = uffd_parse_message(buf, len, file_size, l, err)) < 0) {
		close(*uffd);
		*uffd = -1;
	}
	free(buf);
	return r < 0 ? err_wrap(err, r, "message") : 0;
}

int uffd_handler_run(const char *sock_path, const char *mem_path, struct errbuf *err)
{
	const uint8_t *file = NULL;
	uint64_t size = 0;
	int r = map_file(mem_path, &file, &size, err);
	if (r < 0)
		return r;
	struct uffd_listener lis;
	int conn = -1, uffd = -1;
	struct uffd_layout l = { .n = 0 };
	r = uffd_listen(sock_path, &lis, err);
	if (r == 0)
		r = uffd_accept(&lis, &conn, err);
	if (r == 0)
		r = handshake(conn, size, &l, &uffd, err);
	if (r == 0)
		r = uffd_serve(uffd, conn, file, &l, err);
	uffd_layout_free(&l);
	if (uffd >= 0)
		close(uffd);
	if (conn >= 0)
		close(conn);
	munmap((void *)file, size);
	return r;
}
