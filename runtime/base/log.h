/* Logging: one sink (stderr or a file), Firecracker's level names.
 * Guest-triggerable messages go through log_ratelimited(). */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdbool.h>
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
/* Redirects output to path (appending). Returns 0 or -errno. */
int log_set_path(const char *path);
/* Only messages from source files under this folder, at any depth
 * ("runtime", "runtime/backend/tcg", "virtio"), or from this one file
 * ("runtime/vm/build.c"), are logged; NULL logs all. The string must
 * outlive the logger. */
void log_set_module(const char *module);
void log_close(void);

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Returns true when the call site may log now: at most `burst` lines per
 * second per site, so a hostile guest cannot flood the log. */
bool log_ratelimit_allow(unsigned *window_start, unsigned *count, unsigned burst);

#define log_err(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#define log_ratelimited(level, ...)                                            \
	do {                                                                   \
		static unsigned rl_start_, rl_count_;                          \
		if (log_ratelimit_allow(&rl_start_, &rl_count_, 10))           \
			log_msg(level, __FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)

#endif
