#include "runtime/base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct errbuf *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(struct errbuf *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	char old[sizeof(e->msg)];
	memcpy(old, e->msg, sizeof(old));
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	/* Truncation is fine: the head of the context is what matters. */
	size_t used = n < 0 ? 0 : (size_t)n;
	if (used + 2 < sizeof(e->msg) && old[0]) {
		memcpy(e->msg + used, ": ", 2);
		used += 2;
		size_t room = sizeof(e->msg) - 1 - used;
		size_t len = strnlen(old, room);
		memcpy(e->msg + used, old, len);
		e->msg[used + len] = '\0';
	}
	return code;
}
