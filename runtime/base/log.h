/* Logging: one sink (stderr or a file), Firecracker's level names.
 * Guest-triggerable messages go through log_ratelimited().
 *
 * Logging never blocks the caller: a line is formatted on the caller's
 * stack and handed to a bounded buffer (runtime/base/outbuf.h) that a
 * logger thread drains into the sink. A sink that stops reading costs
 * lines, counted (log_get_stats) and reported once it reads again, never
 * a stalled vCPU or VMM thread. The level, options and module are atomics:
 * a suppressed line takes no lock. */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum log_level {
	LOG_OFF = 0,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

/* Parses "Error", "Warning", "Info", "Debug", "Trace", "Off" (case-insensitive).
 * Returns 0 and sets *out, or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_options(bool show_level, bool show_origin);
/* The instance id every line carries (--id); the string must outlive the logger. */
void log_set_id(const char *id);
/* The id set (or "ember"); safe to call from a signal handler. */
const char *log_get_id(void);
/* Redirects output to path (appending, created 0600 if missing). Opened
 * non-blocking: a FIFO without a reader is opened read-write, as the
 * metrics sink is, so neither the open nor a write waits for a reader.
 * A regular file stops growing at the size cap (log_set_max_bytes).
 * Lines still queued for the old sink go to the new one. Returns 0 or
 * -errno; on failure the sink is unchanged. */
int log_set_path(const char *path);
/* The size cap of a log file (default LOG_DEFAULT_MAX_BYTES; 0: none):
 * past it, lines are dropped and counted, with one line saying so. It
 * applies from the next log_set_path on. */
#define LOG_DEFAULT_MAX_BYTES (100ull << 20)
void log_set_max_bytes(uint64_t max);
/* Only messages from source files under this folder, at any depth
 * ("runtime", "runtime/backend/tcg", "virtio"), or from this one file
 * ("runtime/vm/build.c"), are logged; NULL logs all. The string must
 * outlive the logger. */
void log_set_module(const char *module);
/* Whether module names a folder or file of Ember's sources (the list the
 * build generates): a filter that matches nothing would silence the log. */
bool log_module_known(const char *module);
/* Waits up to timeout_ms for what is queued to reach the sink. Returns 0,
 * -ETIMEDOUT, or the sink's -errno. */
int log_flush(int timeout_ms);
/* Sets up the sink (stderr unless a path was set) and starts the logger
 * thread now rather than at the first line: main does so before it
 * confines itself, so that the first open and the thread's creation
 * happen before the VMM filter (docs/seccomp.md). */
void log_start(void);
/* A last flush (bounded), stops the logger thread (bounded) and goes back
 * to stderr. Never waits on a stalled sink for more than a fraction of a
 * second: SIGTERM must end the process promptly. */
void log_close(void);

/* Lines lost, for the metrics' logger group (running totals). */
struct log_stats {
	uint64_t missed; /* dropped: the buffer was full or the file at its cap */
	uint64_t fails;  /* sink write errors (what was queued then is lost) */
};
void log_get_stats(struct log_stats *out);

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Returns true when the call site may log now: at most `burst` lines per
 * second per site, so a hostile guest cannot flood the log. *state is the
 * site's own (the second and the count so far, packed); lock-free. */
bool log_ratelimit_allow(_Atomic uint64_t *state, unsigned burst);

#define log_err(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/* A line its level suppresses does not touch the site's budget. */
#define log_ratelimited(level, ...)                                            \
	do {                                                                   \
		static _Atomic uint64_t rl_state_;                             \
		if ((level) <= log_get_level() &&                              \
		    log_ratelimit_allow(&rl_state_, 10))                       \
			log_msg(level, __FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)

#endif
