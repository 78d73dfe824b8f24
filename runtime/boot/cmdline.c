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

/* key need not be NUL-terminated: the names in a parameter list are not. */
static int cmdline_has_n(const struct cmdline *cl, const char *key, size_t k)
{
	if (!k)
		return 0;
	const char *end = cl->buf + cl->len;
	for (const char *p = cl->buf; (p = memmem(p, (size_t)(end - p), key, k)); p += k) {
		bool start = p == cl->buf || p[-1] == ' ';
		bool whole = p[k] == '=' || p[k] == ' ' || p[k] == '\0';
		if (start && whole)
			return 1;
	}
	return 0;
}

int cmdline_has(const struct cmdline *cl, const char *key)
{
	return cmdline_has_n(cl, key, strlen(key));
}

const char *cmdline_last_value(const struct cmdline *cl, const char *key, size_t *len)
{
	size_t k = strlen(key);
	const char *found = NULL;

	for (const char *p = cl->buf + strspn(cl->buf, " "); *p; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		if (n == 2 && p[0] == '-' && p[1] == '-')
			break; /* the rest is for init */
		if (k && n > k && !memcmp(p, key, k) && p[k] == '=') {
			found = p + k + 1;
			*len = n - k - 1;
		}
		p += n;
	}
	return found;
}

bool cmdline_acpi_off(const struct cmdline *cl)
{
	size_t n = 0;
	const char *v = cmdline_last_value(cl, "acpi", &n);
	return v && n == 3 && !memcmp(v, "off", 3);
}

int cmdline_append_missing(struct cmdline *cl, struct errbuf *err, const char *params)
{
	size_t len0 = cl->len;

	for (const char *p = params + strspn(params, " "); *p; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		size_t k = strcspn(p, "= ");
		if (!cmdline_has_n(cl, p, k)) {
			int r = cmdline_append(cl, err, "%.*s", (int)n, p);
			if (r) {
				cl->len = len0;
				cl->buf[len0] = '\0';
				return r;
			}
		}
		p += n;
	}
	return 0;
}
