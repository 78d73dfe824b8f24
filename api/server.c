/* The API's daemon: libmicrohttpd driven by a thread of our own, so that
 * between its rounds the request deadlines (api/deadline.h) can close
 * connections MHD's idle timeout would keep; the connection cap; start and
 * stop. Requests themselves are request.c's. */
#include "api/server.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/server_int.h"
#include "api/socket.h"
#include "runtime/base/log.h"
#include "runtime/base/seccomp.h"

_Static_assert(API_DL_SLOTS == API_MAX_CONNS + 1, "a deadline slot for every connection MHD allows");

#define NS_PER_MS 1000000LL

int64_t api_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

struct api_conn *api_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct api_server *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		s->active++;
		if (s->opts.counters)
			atomic_fetch_add(&s->opts.counters->connections, 1);
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci ? api_dl_open(&s->dl, ci->connect_fd, api_now_ns()) : NULL;
		return;
	}
	api_dl_close(*socket_context);
	*socket_context = NULL;
	if (s->active)
		s->active--;
}

/* Runs before a connection is set up: the connection cap, counted. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	(void)addr;
	(void)len;
	struct api_server *s = cls;
	if (s->active < API_MAX_CONNS)
		return MHD_YES;
	if (s->opts.counters)
		atomic_fetch_add(&s->opts.counters->rejected_conns, 1);
	log_ratelimited(LOG_WARN, "API: connection refused: %d already open", API_MAX_CONNS);
	return MHD_NO;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
							     va_list ap)
{
	(void)cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	log_ratelimited(LOG_DEBUG, "API (libmicrohttpd): %s", msg);
}

static struct MHD_Daemon *start_mhd(struct api_server *s, unsigned flags, int listen_fd)
{
	return MHD_start_daemon(
		flags | MHD_USE_ERROR_LOG, 0, on_accept, s, api_on_request, s,
		/* First, so that MHD's own start-up messages come through it. */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNS + 1,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, api_on_uri, s,
		MHD_OPTION_NOTIFY_COMPLETED, api_on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		/* Last: without a socket the list ends here. */
		listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END, (MHD_socket)listen_fd,
		MHD_OPTION_END);
}

/* How long the thread may sleep: until MHD's next idle timeout or the
 * next request deadline, whichever is first (-1: until something comes). */
static int wait_ms(struct api_server *s)
{
	MHD_UNSIGNED_LONG_LONG mhd;
	int64_t ms = -1;
	if (MHD_get_timeout(s->mhd, &mhd) == MHD_YES)
		ms = mhd > INT_MAX ? INT_MAX : (int64_t)mhd;
	if (s->next_deadline >= 0) {
		int64_t d = (s->next_deadline - api_now_ns() + NS_PER_MS - 1) / NS_PER_MS;
		if (d < 0)
			d = 0;
		if (ms < 0 || d < ms)
			ms = d;
	}
	return (int)(ms > INT_MAX ? INT_MAX : ms);
}

/* The server thread: MHD's epoll set (its listening socket and every
 * connection) and the stop eventfd, one MHD round per wake-up. */
static void *serve(void *arg)
{
	struct api_server *s = arg;
	/* Named and confined before the first request is read. */
	pthread_setname_np(pthread_self(), "ember-api");
	seccomp_enter(THREAD_API);
	struct pollfd p[2] = { { .fd = s->mhd_fd, .events = POLLIN },
			       { .fd = s->stop_efd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, wait_ms(s)) < 0 && errno != EINTR)
			log_ratelimited(LOG_ERROR, "API server: poll: %s", strerror(errno));
		if (p[1].revents & POLLIN)
			return NULL;
		api_server_run(s);
	}
}

/* The server thread starts with process signals blocked: they stay with
 * the VMM thread, whose handlers may touch the VM. */
static int start_thread(struct api_server *s)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int r = pthread_create(&s->thread, NULL, serve, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	s->have_thread = true;
	return 0;
}

static void server_free(struct api_server *s)
{
	if (s->mhd)
		MHD_stop_daemon(s->mhd); /* closes every connection and the listening socket */
	if (s->stop_efd >= 0)
		close(s->stop_efd);
	free(s->path);
	free(s);
}

int api_server_start(struct api_server **out, const struct api_server_opts *opts,
		     struct errbuf *err)
{
	struct api_server *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, -ENOMEM, "API server: out of memory");
	s->opts = *opts;
	s->stop_efd = -1;
	s->next_deadline = -1;
	int64_t deadline_ns = opts->request_deadline_ms ? (int64_t)opts->request_deadline_ms * NS_PER_MS
						       : (int64_t)API_REQUEST_DEADLINE_S * 1000 * NS_PER_MS;
	api_dl_init(&s->dl, deadline_ns, (int64_t)API_IDLE_TIMEOUT_S * 1000 * NS_PER_MS);
	if (!opts->sock_path) {
		s->mhd = start_mhd(s, MHD_USE_NO_LISTEN_SOCKET, -1);
		if (!s->mhd) {
			server_free(s);
			return err_set(err, -EIO, "API server: libmicrohttpd would not start");
		}
		*out = s;
		return 0;
	}
	s->path = strdup(opts->sock_path);
	s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->path || s->stop_efd < 0) {
		int e = s->path ? errno : ENOMEM;
		server_free(s);
		return err_set(err, -e, "API server: %s", strerror(e));
	}
	int fd = api_socket_listen(opts->sock_path, err);
	if (fd < 0) {
		server_free(s);
		return fd;
	}
	s->mhd = start_mhd(s, MHD_USE_EPOLL, fd);
	const union MHD_DaemonInfo *di =
		s->mhd ? MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (di)
		s->mhd_fd = di->epoll_fd;
	int r = di ? start_thread(s) : -EIO;
	if (r < 0) {
		if (!s->mhd)
			close(fd);
		unlink(s->path);
		server_free(s);
		return err_set(err, r, "API server: %s",
			       r == -EIO ? "libmicrohttpd would not start" : strerror(-r));
	}
	*out = s;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	if (s->have_thread) {
		uint64_t one = 1;
		ssize_t n = write(s->stop_efd, &one, sizeof(one));
		(void)n;
		pthread_join(s->thread, NULL);
	}
	if (s->path)
		unlink(s->path);
	server_free(s);
}

int api_server_add_connection(struct api_server *s, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	return MHD_add_connection(s->mhd, fd, (struct sockaddr *)&sa, sizeof(sa)) == MHD_YES
		       ? 0
		       : -errno;
}

/* One round: note which waiting connections have bytes (MHD reads them
 * now), let MHD work, then cut the connections past their deadline. */
void api_server_run(struct api_server *s)
{
	api_dl_peek(&s->dl, api_now_ns());
	MHD_run(s->mhd);
	unsigned cut = api_dl_expire(&s->dl, api_now_ns(), &s->next_deadline);
	if (!cut)
		return;
	if (s->opts.counters)
		atomic_fetch_add(&s->opts.counters->timed_out, cut);
	log_ratelimited(LOG_WARN,
			"API: %u connection(s) closed: no whole request within %lld ms of its first "
			"byte",
			cut, (long long)(s->dl.deadline_ns / NS_PER_MS));
}

unsigned api_server_connections(struct api_server *s)
{
	return s->active;
}
