/* Small helpers over iovec arrays that point into guest memory (from a
 * virtq_chain): copies at an offset and sub-ranges, all bounded by the
 * iovecs themselves. */
#ifndef EMBER_VIRTIO_IOV_H
#define EMBER_VIRTIO_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copies up to len bytes from buf into the iovecs starting at byte off;
 * returns how many were copied. */
size_t viov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf,
		     size_t len);
/* Copies up to len bytes out of the iovecs starting at byte off. */
size_t viov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
/* Fills dst (at most max entries) with the part [off, off+len) of iov;
 * returns the number of entries. Bytes past the end are left out. */
unsigned viov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
		    struct iovec *dst, unsigned max);
size_t viov_len(const struct iovec *iov, unsigned n);

#endif
