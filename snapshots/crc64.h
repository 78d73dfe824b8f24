/* CRC-64/XZ (ECMA-182 polynomial, reflected, init and xorout all ones):
 * the checksum xz and Firecracker's snapshot files use. */
#ifndef EMBER_SNAP_CRC64_H
#define EMBER_SNAP_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Start from crc = 0; feed the result back in to continue, so
 * crc64_update(crc64_update(0, a, n), b, m) is the CRC of a then b. */
uint64_t crc64_update(uint64_t crc, const void *buf, size_t len);

static inline uint64_t crc64(const void *buf, size_t len)
{
	return crc64_update(0, buf, len);
}

#endif
