/* The logger's output: a bounded buffer (runtime/base/outbuf.h) in front of
 * the sink, stderr or a file, drained by one logger thread. A caller never
 * waits for the sink: with nothing queued its line is written straight
 * through (non-blocking), otherwise queued, or dropped and counted when
 * the buffer is full. The thread writes the queue out as the sink accepts
 * it and then says how many lines were dropped meanwhile. */
#include "runtime/base/log_out.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/outbuf.h"
#include "runtime/base/seccomp.h"

/* What may wait for a slow sink: a few hundred lines. */
#define LOG_BUFFER_BYTES (64u << 10)
/* log_close's bounds: the whole exit must fit well within a second. */
#define LOG_CLOSE_FLUSH_MS 200
#define LOG_CLOSE_JOIN_MS 200

/* Process-wide like the settings in log.c. log_start_lock serialises
 * starting and stopping the thread and changing the sink; it is never held
 * around a write that can wait, and a thread that logs takes it only the
 * first time (log_ready). The buffer is never freed: a thread may still be
 * logging while the process exits. */
static pthread_mutex_t log_start_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct outbuf *) log_ob;
static atomic_bool log_ready; /* a sink is set and the thread started (or cannot be) */
static bool log_thread_started;
static pthread_t log_thread;
static atomic_uint log_gen; /* a logger thread runs while its generation is current */
static _Atomic uint64_t log_reported; /* refused lines already reported */
static _Atomic uint64_t log_lost;     /* lines lost without a buffer (out of memory) */

/* The size cap of the current sink, armed for regular files only. */
static _Atomic uint64_t log_max_bytes = LOG_DEFAULT_MAX_BYTES;
static atomic_bool log_cap_armed;
static _Atomic uint64_t log_cap;
static _Atomic uint64_t log_file_bytes; /* its size plus what was queued for it */
static atomic_bool log_cap_noted;
static _Atomic uint64_t log_cap_missed;

/* The logger's own lines: never filtered, never capped. */
static void log_put_notice(struct outbuf *ob, const char *text)
{
	char line[256];
	size_t at = log_format_prefix(line, sizeof(line), LOG_WARN, __FILE__, __LINE__);
	int w = snprintf(line + at, sizeof(line) - at, "%s\n", text);
	if (w > 0)
		at += (size_t)w < sizeof(line) - at ? (size_t)w : sizeof(line) - at - 1;
	outbuf_put(ob, line, at);
}

/* Once the queue is empty again: how many lines the full buffer cost. */
static void log_report_drops(struct outbuf *ob)
{
	struct outbuf_stats st;
	outbuf_get_stats(ob, &st);
	uint64_t prev = atomic_exchange(&log_reported, st.puts_refused);
	if (st.puts_refused <= prev)
		return;
	char text[96];
	snprintf(text, sizeof(text), "%" PRIu64 " log lines dropped: the log output did not keep up",
		 st.puts_refused - prev);
	log_put_notice(ob, text);
}

static void *log_thread_main(void *arg)
{
	unsigned gen = (unsigned)(uintptr_t)arg;
	/* Its sink was opened by the thread that started it (log_start). */
	pthread_setname_np(pthread_self(), "ember-log");
	seccomp_enter(THREAD_VMM);
	struct outbuf *ob = atomic_load(&log_ob);
	while (atomic_load(&log_gen) == gen) {
		int r = outbuf_flush(ob);
		if (r == 0)
			log_report_drops(ob);
		struct pollfd p[2] = {
			{ .fd = outbuf_wake_fd(ob), .events = POLLIN },
			{ .fd = -1, .events = POLLOUT },
		};
		bool pollable;
		int fd = outbuf_fd(ob, &pollable);
		if (r == -EAGAIN && pollable)
			p[1].fd = fd;
		poll(p, 2, -1);
	}
	return NULL;
}

/* Signals stay with the VMM thread (runtime/main.c). */
static void log_start_thread_locked(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	unsigned gen = atomic_load(&log_gen);
	log_thread_started =
		pthread_create(&log_thread, NULL, log_thread_main, (void *)(uintptr_t)gen) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Without a thread lines still go straight through while the sink keeps
 * up; only the queue would wait for the next line. */
static struct outbuf *log_start_locked(void)
{
	struct outbuf *ob = atomic_load(&log_ob);
	if (!ob) {
		if (outbuf_create(&ob, LOG_BUFFER_BYTES) < 0)
			return NULL;
		atomic_store(&log_ob, ob);
	}
	if (!atomic_load(&log_ready)) {
		struct outfd err;
		if (outfd_open_shared(&err, STDERR_FILENO) == 0)
			outbuf_set_sink(ob, &err);
		if (!log_thread_started)
			log_start_thread_locked();
		atomic_store(&log_ready, true);
	}
	return ob;
}

static struct outbuf *log_ensure(void)
{
	struct outbuf *ob = atomic_load_explicit(&log_ob, memory_order_acquire);
	if (ob && atomic_load_explicit(&log_ready, memory_order_acquire))
		return ob;
	pthread_mutex_lock(&log_start_lock);
	ob = log_start_locked();
	pthread_mutex_unlock(&log_start_lock);
	return ob;
}

void log_start(void)
{
	log_ensure();
}

/* Charges len bytes to the file; false (and one notice) past the cap. */
static bool log_cap_admit(struct outbuf *ob, size_t len)
{
	uint64_t cap = atomic_load(&log_cap);
	uint64_t before = atomic_fetch_add(&log_file_bytes, len);
	if (before + len <= cap)
		return true;
	atomic_fetch_add(&log_cap_missed, 1);
	if (!atomic_exchange(&log_cap_noted, true)) {
		char text[160];
		snprintf(text, sizeof(text),
			 "the log file reached its size cap of %" PRIu64
			 " bytes: further lines are dropped (logger.missed_log_count)",
			 cap);
		log_put_notice(ob, text);
	}
	return false;
}

void log_out_line(const char *line, size_t len)
{
	struct outbuf *ob = log_ensure();
	if (!ob) {
		atomic_fetch_add(&log_lost, 1);
		return;
	}
	if (atomic_load_explicit(&log_cap_armed, memory_order_relaxed) && !log_cap_admit(ob, len))
		return;
	outbuf_put(ob, line, len);
}

void log_set_max_bytes(uint64_t max)
{
	atomic_store(&log_max_bytes, max);
}

int log_set_path(const char *path)
{
	/* A FIFO without a reader refuses O_WRONLY|O_NONBLOCK (ENXIO);
	 * holding it open for reading too lets it work without one. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENXIO)
		fd = open(path, O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct outfd o;
	outfd_adopt(&o, fd);
	struct stat st;
	uint64_t size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	pthread_mutex_lock(&log_start_lock);
	struct outbuf *ob = log_start_locked();
	if (!ob) {
		pthread_mutex_unlock(&log_start_lock);
		outfd_close(&o);
		return -ENOMEM;
	}
	uint64_t max = atomic_load(&log_max_bytes);
	atomic_store(&log_cap_armed, false);
	atomic_store(&log_file_bytes, size);
	atomic_store(&log_cap, max);
	atomic_store(&log_cap_noted, false);
	atomic_store(&log_cap_armed, o.regular && max > 0);
	outbuf_set_sink(ob, &o);
	pthread_mutex_unlock(&log_start_lock);
	return 0;
}

int log_flush(int timeout_ms)
{
	struct outbuf *ob = atomic_load(&log_ob);
	return ob ? outbuf_drain(ob, timeout_ms) : 0;
}

/* A thread that does not stop in time (a write to a regular file on a
 * hung disk) is left behind: its generation is over, so it ends at its
 * next turn, and exit_group ends it anyway. */
static void log_stop_thread_locked(struct outbuf *ob)
{
	if (!log_thread_started)
		return;
	atomic_fetch_add(&log_gen, 1);
	outbuf_wake(ob);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += LOG_CLOSE_JOIN_MS * 1000000L;
	dl.tv_sec += dl.tv_nsec / 1000000000L;
	dl.tv_nsec %= 1000000000L;
	if (pthread_timedjoin_np(log_thread, NULL, &dl) != 0)
		pthread_detach(log_thread);
	log_thread_started = false;
}

void log_close(void)
{
	pthread_mutex_lock(&log_start_lock);
	struct outbuf *ob = atomic_load(&log_ob);
	if (ob) {
		outbuf_drain(ob, LOG_CLOSE_FLUSH_MS);
		log_stop_thread_locked(ob);
		/* Back to stderr, opened again by the next line if any: the
		 * sink closes now, restoring stderr's flags if it had to
		 * change them. */
		struct outfd none = { .fd = -1, .restore_flags = -1 };
		atomic_store(&log_ready, false);
		atomic_store(&log_cap_armed, false);
		outbuf_set_sink(ob, &none);
	}
	pthread_mutex_unlock(&log_start_lock);
}

void log_get_stats(struct log_stats *out)
{
	struct outbuf_stats st = { 0 };
	struct outbuf *ob = atomic_load(&log_ob);
	if (ob)
		outbuf_get_stats(ob, &st);
	out->missed = st.puts_refused + atomic_load(&log_cap_missed) + atomic_load(&log_lost);
	out->fails = st.write_errors;
}
