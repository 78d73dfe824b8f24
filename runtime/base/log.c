#include "runtime/base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Process-wide logger settings: the logger is a singleton by nature
 * (one sink per process), guarded by log_lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_level = LOG_WARN;
static bool log_show_level = true;
static bool log_show_origin;
static FILE *log_file;
static const char *log_module;
static const char *log_id = "ember";

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
	pthread_mutex_lock(&log_lock);
	log_level = level;
	pthread_mutex_unlock(&log_lock);
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_options(bool show_level, bool show_origin)
{
	pthread_mutex_lock(&log_lock);
	log_show_level = show_level;
	log_show_origin = show_origin;
	pthread_mutex_unlock(&log_lock);
}

int log_set_path(const char *path)
{
	FILE *f = fopen(path, "ae");
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	log_file = f;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_set_module(const char *module)
{
	pthread_mutex_lock(&log_lock);
	log_module = module;
	pthread_mutex_unlock(&log_lock);
}

void log_set_id(const char *id)
{
	pthread_mutex_lock(&log_lock);
	log_id = id;
	pthread_mutex_unlock(&log_lock);
}

void log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	log_file = NULL;
	pthread_mutex_unlock(&log_lock);
}

/* A module is a source folder at any depth ("runtime", "runtime/backend/tcg",
 * "virtio/") or one file ("runtime/vm/build.c"). */
static bool log_module_match(const char *file, const char *module)
{
	size_t n = strlen(module);
	while (n > 0 && module[n - 1] == '/')
		n--;
	return strncmp(file, module, n) == 0 && (file[n] == '/' || file[n] == 0);
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	if (level == LOG_OFF || level > log_level)
		return;
	if (log_module && !log_module_match(file, log_module))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);

	pthread_mutex_lock(&log_lock);
	FILE *out = log_file ? log_file : stderr;
	fprintf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec, log_id);
	if (log_show_level)
		fprintf(out, ":%s", level_names[level]);
	/* The whole path: file names repeat across folders (vm.c, vcpu.c). */
	if (log_show_origin)
		fprintf(out, ":%s:%d", file, line);
	fputs("] ", out);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	pthread_mutex_unlock(&log_lock);
}

bool log_ratelimit_allow(unsigned *window_start, unsigned *count, unsigned burst)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned now = (unsigned)ts.tv_sec;
	bool ok;
	pthread_mutex_lock(&log_lock);
	if (*window_start != now) {
		*window_start = now;
		*count = 0;
	}
	ok = (*count)++ < burst;
	pthread_mutex_unlock(&log_lock);
	return ok;
}
