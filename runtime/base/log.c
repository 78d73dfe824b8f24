/* The logger's front: settings, filtering, formatting, rate limiting. The
 * output side is log_out.c. */
#include "runtime/base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "runtime/base/log_out.h"

/* The logger is process-wide by nature (one sink for every thread, and
 * log_msg has no context argument), so its settings are globals. Each is
 * an atomic on its own: a thread that logs reads them without a lock. */
static _Atomic int log_level = LOG_WARN;
static atomic_bool log_show_level = true;
static atomic_bool log_show_origin;
static _Atomic(const char *) log_module;
static _Atomic(const char *) log_id = "ember";

static const char *const level_names[] = {
	[LOG_OFF] = "Off",     [LOG_ERROR] = "Error", [LOG_WARN] = "Warning",
	[LOG_INFO] = "Info",   [LOG_DEBUG] = "Debug", [LOG_TRACE] = "Trace",
};

int log_level_parse(const char *name, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "Warn") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void log_set_options(bool show_level, bool show_origin)
{
	atomic_store(&log_show_level, show_level);
	atomic_store(&log_show_origin, show_origin);
}

void log_set_module(const char *module)
{
	atomic_store(&log_module, module);
}

void log_set_id(const char *id)
{
	atomic_store(&log_id, id);
}

/* A module is a source folder at any depth ("runtime", "runtime/backend/tcg",
 * "virtio/") or one file ("runtime/vm/build.c"). */
static bool log_module_match(const char *file, const char *module)
{
	size_t n = strlen(module);
	while (n > 0 && module[n - 1] == '/')
		n--;
	return n > 0 && strncmp(file, module, n) == 0 && (file[n] == '/' || file[n] == 0);
}

size_t log_format_prefix(char *buf, size_t len, enum log_level level, const char *file, int line)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec,
			 atomic_load(&log_id));
	size_t at = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
	if (atomic_load_explicit(&log_show_level, memory_order_relaxed))
		at += (size_t)snprintf(buf + at, len - at, ":%s", level_names[level]);
	at = at < len ? at : len - 1;
	/* The whole path: file names repeat across folders (vm.c, vcpu.c). */
	if (atomic_load_explicit(&log_show_origin, memory_order_relaxed))
		at += (size_t)snprintf(buf + at, len - at, ":%s:%d", file, line);
	at = at < len ? at : len - 1;
	at += (size_t)snprintf(buf + at, len - at, "] ");
	return at < len ? at : len - 1;
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	if (level == LOG_OFF || level > log_get_level())
		return;
	const char *module = atomic_load_explicit(&log_module, memory_order_relaxed);
	if (module && !log_module_match(file, module))
		return;
	char buf[LOG_LINE_MAX];
	/* One byte kept back for the newline. */
	size_t at = log_format_prefix(buf, sizeof(buf) - 1, level, file, line);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + at, sizeof(buf) - 1 - at, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf) - 1 - at) {
		at = sizeof(buf) - 2;
		memcpy(buf + at - 3, "...", 3);
	} else {
		at += (size_t)n;
	}
	buf[at++] = '\n';
	log_out_line(buf, at);
}

/* The site's state packs the current second (high half) and the lines it
 * let through in that second (low half), so one compare-and-swap moves
 * both: no lock, and a suppressed call is a single load. */
bool log_ratelimit_allow(_Atomic uint64_t *state, unsigned burst)
{
	struct timespec ts;
	if (!burst)
		return false;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint32_t now = (uint32_t)ts.tv_sec;
	uint64_t old = atomic_load_explicit(state, memory_order_relaxed);
	for (;;) {
		uint64_t next;
		if ((uint32_t)(old >> 32) != now)
			next = ((uint64_t)now << 32) | 1;
		else if ((uint32_t)old >= burst)
			return false;
		else
			next = old + 1;
		if (atomic_compare_exchange_weak_explicit(state, &old, next, memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	}
}
