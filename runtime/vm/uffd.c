#include "runtime/vm/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define UFFD_PAGE_SIZE 4096

/* /dev/userfaultfd (Linux 6.1+) works where the syscall is restricted to
 * privileged users (vm.unprivileged_userfaultfd = 0); the syscall where
 * the device is missing. */
static int uffd_open(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		int e = errno;
		close(dev);
		if (fd >= 0)
			return fd;
		errno = e;
	}
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static int uffd_register(int fd, const struct guest_mem *mem)
{
	/* As Firecracker: memory this VMM discards (MADV_DONTNEED) must come
	 * back as zeros, not as the file's page again, and only the handler
	 * hears of it. Nothing changes until something discards. */
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)mem->regions[i].host, mem->regions[i].size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
			return -errno;
	}
	return 0;
}

/* The regions, offsets counted from the start of the memory file. */
static char *uffd_message(const struct guest_mem *mem)
{
	json_t *arr = json_array();
	uint64_t offset = 0;
	for (unsigned i = 0; arr && i < mem->nr_regions; i++) {
		json_t *r = json_pack("{s:I, s:I, s:I, s:i}", "base_host_virt_addr",
				      (json_int_t)(uintptr_t)mem->regions[i].host, "size",
				      (json_int_t)mem->regions[i].size, "offset", (json_int_t)offset,
				      "page_size", UFFD_PAGE_SIZE);
		if (!r || json_array_append_new(arr, r) < 0) {
			json_decref(arr);
			return NULL;
		}
		offset += mem->regions[i].size;
	}
	char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return text;
}

/* Returns the connected socket in *conn, the message and fd sent. */
static int uffd_send(const char *sock_path, const char *msg, int fd, int *conn)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(sock_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, sock_path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;
		close(s);
		return r;
	}
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(s, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	int r = n < 0 ? -errno : (size_t)n != iov.iov_len ? -EIO : 0;
	if (r < 0)
		close(s);
	else
		*conn = s;
	return r;
}

int vm_uffd_attach(struct guest_mem *mem, const char *sock_path, int *uffd, int *conn,
		   struct errbuf *err)
{
	int fd = uffd_open();
	if (fd < 0)
		return err_set(err, fd, "userfaultfd: %s", strerror(-fd));
	int r = uffd_register(fd, mem);
	if (r < 0) {
		close(fd);
		return err_set(err, r, "userfaultfd: registering guest memory: %s", strerror(-r));
	}
	char *msg = uffd_message(mem);
	r = msg ? uffd_send(sock_path, msg, fd, conn) : -ENOMEM;
	free(msg);
	if (r < 0) {
		close(fd);
		return err_set(err, r, "mem_backend %s: %s", sock_path, strerror(-r));
	}
	/* Pages the handler has not served are not zeros. */
	mem->untouched_is_zero = false;
	*uffd = fd;
	return 0;
}
