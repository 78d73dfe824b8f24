/* Internal to the logger: log.c formats lines, log_out.c carries them to
 * the sink (a bounded buffer, the logger thread, the file's size cap). */
#ifndef EMBER_LOG_OUT_H
#define EMBER_LOG_OUT_H

#include <stddef.h>

#include "runtime/base/log.h"

/* The longest line; longer messages are cut (and end in "..."). */
#define LOG_LINE_MAX 2048

/* Queues one whole line (newline included) or drops and counts it. */
void log_out_line(const char *line, size_t len);
/* Writes the timestamp-and-tags prefix of a line into buf (NUL-terminated,
 * cut to len); returns its length. */
size_t log_format_prefix(char *buf, size_t len, enum log_level level, const char *file, int line);

#endif
