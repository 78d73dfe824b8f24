/* An error message travelling up with a negative errno, so that the top
 * level can log one line with the whole context. */
#ifndef EMBER_ERR_H
#define EMBER_ERR_H

#include <stddef.h>

struct errbuf {
	char msg[512];
};

/* Formats into e (if non-NULL) and returns code, for `return err_set(...)`. */
int err_set(struct errbuf *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes existing text with more context: "ctx: old". Returns code. */
int err_wrap(struct errbuf *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
