/* Binding the API socket owner-only and replacing a stale one. */
#include "api/socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A socket file at path: refused if a server answers on it (or it is not
 * a socket), else removed, its server gone. */
static int replace_stale(const struct sockaddr_un *sa, struct errbuf *err)
{
	const char *path = sa->sun_path;
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return err_set(err, -EEXIST, "API socket %s: exists and is not a socket", path);
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		close(probe);
		return err_set(err, -EADDRINUSE, "API socket %s: another process is serving it",
			       path);
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	return 0;
}

int api_socket_listen(const char *path, struct errbuf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, -ENAMETOOLONG, "API socket %s: path longer than %zu bytes", path,
			       sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(err, -errno, "API socket: %s", strerror(errno));
	int r = replace_stale(&sa, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* The socket controls the VM: bind creates the file 0777 & ~umask,
	 * so the umask makes it 0600 as it appears; a chmod after bind would
	 * leave an instant in which anyone may connect. The umask is the
	 * process's, but nothing else creates files this early (the backends'
	 * warm-up thread only probes), and one that did would only come out
	 * stricter. */
	mode_t old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		e = r < 0 ? e : errno;
		if (r == 0)
			unlink(path);
		close(fd);
		return err_set(err, -e, "API socket %s: %s", path, strerror(e));
	}
	return fd;
}
