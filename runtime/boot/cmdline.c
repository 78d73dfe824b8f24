#include "runtime/boot/cmdline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cmdline_init(struct cmdline *cl, const char *base, struct errbuf *err)
{
	cl->len = 0;
	cl->buf[0] = '\0';
	if (!base || !*base)
		return 0;
	size_t n = strlen(base);
	if (n > CMDLINE_MAX)
		return err_set(err, -E2BIG, "command line is %zu bytes, at most %u fit", n,
			       (unsigned)CMDLINE_MAX);
	memcpy(cl->buf, base, n + 1);
	cl->len = n;
	return 0;
}

int cmdline_append(struct cmdline *cl, struct errbuf *err, const char *fmt, ...)
{
	char param[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(param, sizeof(param), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(param))
		return err_set(err, -E2BIG, "command-line parameter too long");
	size_t sep = cl->len ? 1 : 0;
	if (cl->len + sep + (size_t)n > CMDLINE_MAX)
		return err_set(err, -E2BIG, "command line would be %zu bytes, at most %u fit",
			       cl->len + sep + (size_t)n, (unsigned)CMDLINE_MAX);
	if (sep)
		cl->buf[cl->len++] = ' ';
	memcpy(cl->buf + cl->len, param, (size_t)n + 1);
	cl->len += (size_t)n;
	return 0;
}

int cmdline_has(const struct cmdline *cl, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = cl->buf; (p = strstr(p, key)); p += k) {
		bool start = p == cl->buf || p[-1] == ' ';
		bool end = p[k] == '=' || p[k] == ' ' || p[k] == '\0';
		if (start && end)
			return 1;
	}
	return 0;
}
