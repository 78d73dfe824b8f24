#include "virtio/iov.h"

#include <string.h>

size_t viov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf,
		     size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((char *)iov[i].iov_base + off, (const char *)buf + done, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t viov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((char *)buf + done, (const char *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

unsigned viov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
		    struct iovec *dst, unsigned max)
{
	unsigned m = 0;
	for (unsigned i = 0; i < n && len && m < max; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len)
			k = len;
		dst[m++] = (struct iovec){ (char *)iov[i].iov_base + off, k };
		len -= k;
		off = 0;
	}
	return m;
}

size_t viov_len(const struct iovec *iov, unsigned n)
{
	size_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}
