/* Serving the VMM's page faults from the memory file, one page each. */
#include "snapshots/uffd/handler.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Each fault blocks one VMM thread until served, so a VMM has few pending
 * at once; the cap is against one that floods us. */
#define MAX_PENDING 4096
#define EVENTS_PER_READ 32

struct server {
	int uffd, conn;
	const uint8_t *file;
	struct uffd_layout *l;
	uint64_t pending[MAX_PENDING]; /* page addresses not served yet (EAGAIN) */
	size_t n_pending;
	bool gone; /* the VMM has gone: nothing is left to serve */
};

static struct uffd_region *region_of(struct uffd_layout *l, uint64_t addr)
{
	for (unsigned i = 0; i < l->n; i++)
		if (addr >= l->r[i].base && addr - l->r[i].base < l->r[i].size)
			return &l->r[i];
	return NULL;
}

/* The VMM discarded [start, end) (MADV_DONTNEED): the guest gave those
 * pages up, so they must come back as zeros rather than as the file's. */
static int mark_removed(struct uffd_layout *l, uint64_t start, uint64_t end)
{
	start &= ~(uint64_t)(UFFD_PAGE - 1);
	for (unsigned i = 0; i < l->n; i++) {
		struct uffd_region *r = &l->r[i];
		uint64_t lo = start > r->base ? start : r->base;
		uint64_t hi = end < r->base + r->size ? end : r->base + r->size;
		if (lo >= hi)
			continue;
		size_t pages = r->size / UFFD_PAGE;
		if (!r->removed && !(r->removed = calloc((pages + 63) / 64, sizeof(uint64_t))))
			return -ENOMEM;
		size_t first = (lo - r->base) / UFFD_PAGE;
		size_t last = (hi - r->base + UFFD_PAGE - 1) / UFFD_PAGE;
		for (size_t p = first; p < last; p++)
			r->removed[p / 64] |= 1ull << (p % 64);
	}
	return 0;
}

static bool is_removed(const struct uffd_region *r, uint64_t page)
{
	size_t p = (page - r->base) / UFFD_PAGE;
	return r->removed && (r->removed[p / 64] >> (p % 64)) & 1;
}

/* 0 served (or no longer wanted), -EAGAIN to retry after the queued
 * events are read, -ESRCH the VMM's memory is gone, else -errno. */
static int serve_page(struct server *s, uint64_t page, struct errbuf *err)
{
	struct uffd_region *r = region_of(s->l, page);
	if (!r)
		return err_set(err, -EFAULT, "a page fault at %#" PRIx64 " outside every region",
			       page);
	int rc;
	if (is_removed(r, page)) {
		struct uffdio_zeropage z = { .range = { page, UFFD_PAGE } };
		rc = ioctl(s->uffd, UFFDIO_ZEROPAGE, &z);
	} else {
		struct uffdio_copy c = {
			.dst = page,
			.src = (uintptr_t)(s->file + r->offset + (page - r->base)),
			.len = UFFD_PAGE,
		};
		rc = ioctl(s->uffd, UFFDIO_COPY, &c);
	}
	if (rc == 0)
		return 0;
	switch (errno) {
	case EEXIST: {
		/* Served already, for another thread's fault on the same page:
		 * that copy woke its waiters, but a wake costs little. */
		struct uffdio_range w = { page, UFFD_PAGE };
		ioctl(s->uffd, UFFDIO_WAKE, &w);
		return 0;
	}
	case ENOENT: /* unmapped meanwhile: no thread waits on it now */
		return 0;
	case EAGAIN:
		return -EAGAIN;
	case ESRCH:
		return -ESRCH;
	default:
		return err_set(err, -errno, "serving the page at %#" PRIx64 ": %s", page,
			       strerror(errno));
	}
}

/* Reads what the userfaultfd has queued: removes take effect at once,
 * faults join the pending list. Returns the number of events or -errno. */
static int read_events(struct server *s, struct errbuf *err)
{
	struct uffd_msg msgs[EVENTS_PER_READ];
	ssize_t n;
	do
		n = read(s->uffd, msgs, sizeof(msgs));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : err_set(err, -errno, "userfaultfd: %s", strerror(errno));
	if (n == 0) {
		s->gone = true;
		return 0;
	}
	size_t count = (size_t)n / sizeof(msgs[0]);
	for (size_t i = 0; i < count; i++) {
		const struct uffd_msg *m = &msgs[i];
		switch (m->event) {
		case UFFD_EVENT_PAGEFAULT:
			if (s->n_pending == MAX_PENDING)
				return err_set(err, -EOVERFLOW, "more than %d page faults pending",
					       MAX_PENDING);
			s->pending[s->n_pending++] =
				m->arg.pagefault.address & ~(uint64_t)(UFFD_PAGE - 1);
			break;
		case UFFD_EVENT_REMOVE:
			if (mark_removed(s->l, m->arg.remove.start, m->arg.remove.end) < 0)
				return err_set(err, -ENOMEM, "out of memory");
			break;
		case UFFD_EVENT_FORK:
			close((int)m->arg.fork.ufd);
			/* fall through */
		default:
			return err_set(err, -EPROTO,
				       "userfaultfd event %#x: only page faults and removes are "
				       "handled",
				       m->event);
		}
	}
	return (int)count;
}

/* EAGAIN means the VMM's memory map is changing (a remove is queued): the
 * faults wait until that event has been read and taken into account. */
static int serve_pending(struct server *s, struct errbuf *err)
{
	for (;;) {
		size_t keep = 0;
		for (size_t i = 0; i < s->n_pending; i++) {
			int r = serve_page(s, s->pending[i], err);
			if (r == -ESRCH) {
				s->gone = true;
				return 0;
			}
			if (r == -EAGAIN)
				s->pending[keep++] = s->pending[i];
			else if (r < 0)
				return r;
		}
		s->n_pending = keep;
		if (keep == 0)
			return 0;
		int n = read_events(s, err);
		if (n < 0 || s->gone)
			return n < 0 ? n : 0;
		if (n == 0) {
			struct pollfd p = { .fd = s->uffd, .events = POLLIN };
			poll(&p, 1, 1);
		}
	}
}

/* The VMM keeps the connection for as long as it uses the memory: its
 * hang-up (the VMM closed it or exited) ends the handler. It sends nothing
 * more. */
static int check_conn(struct server *s, short revents, struct errbuf *err)
{
	if (revents & POLLNVAL)
		return err_set(err, -EBADF, "the connection is not open");
	if (revents & (POLLHUP | POLLRDHUP | POLLERR)) {
		s->gone = true;
		return 0;
	}
	char c;
	ssize_t n = recv(s->conn, &c, 1, MSG_DONTWAIT);
	if (n > 0)
		return err_set(err, -EPROTO, "the VMM sent more after its message");
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		s->gone = true; /* closed, or reset: gone either way */
	return 0;
}

int uffd_serve(int uffd, int conn, const uint8_t *file, struct uffd_layout *l,
	       struct errbuf *err)
{
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, -ENOMEM, "out of memory");
	*s = (struct server){ .uffd = uffd, .conn = conn, .file = file, .l = l };
	int r = 0;
	while (r == 0 && !s->gone) {
		struct pollfd p[2] = { { .fd = uffd, .events = POLLIN },
				       { .fd = conn, .events = POLLIN | POLLRDHUP } };
		if (poll(p, 2, -1) < 0) {
			r = errno == EINTR ? 0 : err_set(err, -errno, "poll: %s", strerror(errno));
			continue;
		}
		if (p[1].revents) {
			r = check_conn(s, p[1].revents, err);
		} else if (p[0].revents & POLLNVAL) {
			r = err_set(err, -EBADF, "userfaultfd: not open");
		} else if (p[0].revents & (POLLERR | POLLHUP)) {
			s->gone = true;
		} else if (p[0].revents & POLLIN) {
			r = read_events(s, err);
			if (r >= 0)
				r = serve_pending(s, err);
		}
	}
	free(s);
	return r;
}
