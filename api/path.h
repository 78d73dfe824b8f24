/* The request path as the client sent it, checked before libmicrohttpd
 * decodes it in place: a decoded %00 would end the C string the router
 * sees, so "/drives/a%00b" would act on drive "a". */
#ifndef EMBER_API_PATH_H
#define EMBER_API_PATH_H

#include <stddef.h>

/* raw: the URI from the request line (a query after '?' is not looked
 * at). Every byte of the path, and every byte a %XX escape decodes to,
 * must be printable ASCII (0x21-0x7e), and every '%' must start such an
 * escape. 0, or -EINVAL with a fault message in why naming the byte and
 * its offset. */
int api_path_check(const char *raw, char *why, size_t why_len);

#endif
