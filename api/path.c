/* Path bytes the API refuses. Firecracker's paths and ids are printable
 * ASCII; anything else is a client bug or an attempt to make the router
 * and a log reader see different paths. */
#include "api/path.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool printable(unsigned c)
{
	return c >= 0x21 && c <= 0x7e;
}

static void name_byte(unsigned c, char out[24])
{
	if (c == 0)
		snprintf(out, 24, "a NUL byte");
	else
		snprintf(out, 24, "byte 0x%02x", c);
}

int api_path_check(const char *raw, char *why, size_t why_len)
{
	char what[24];
	for (size_t i = 0; raw[i] && raw[i] != '?'; i++) {
		unsigned c = (unsigned char)raw[i];
		if (c != '%') {
			if (printable(c))
				continue;
			name_byte(c, what);
			snprintf(why, why_len,
				 "Invalid path: %s at offset %zu; a path holds printable ASCII only.",
				 what, i);
			return -EINVAL;
		}
		int hi = hex(raw[i + 1]), lo = hi < 0 ? -1 : hex(raw[i + 2]);
		if (lo < 0) {
			snprintf(why, why_len,
				 "Invalid path: the '%%' at offset %zu does not start a %%XX escape.", i);
			return -EINVAL;
		}
		c = (unsigned)(hi << 4 | lo);
		if (!printable(c)) {
			name_byte(c, what);
			snprintf(why, why_len,
				 "Invalid path: \"%%%c%c\" at offset %zu decodes to %s; a path holds "
				 "printable ASCII only.",
				 raw[i + 1], raw[i + 2], i, what);
			return -EINVAL;
		}
		i += 2;
	}
	return 0;
}
