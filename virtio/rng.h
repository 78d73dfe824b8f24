/* virtio-rng (virtio 1.2 section 5.4): the driver posts writable buffers,
 * the device fills them from getrandom(2). Enabled by the config's
 * "entropy" section. */
#ifndef EMBER_VIRTIO_RNG_H
#define EMBER_VIRTIO_RNG_H

#include <stdint.h>

#include "runtime/base/err.h"
#include "virtio/virtio.h"

struct config_entropy;

struct vrng_stats {
	uint64_t requests;
	uint64_t bytes;
	uint64_t errors; /* getrandom failures (the request is completed short) */
};

/* Snapshot state: only a version; the device keeps nothing beyond its
 * queue (in the transport's state), and every request completes within
 * its notification. */
#define VRNG_STATE_VERSION 1
struct vrng_state {
	uint32_t version;
};

int vrng_create(const struct config_entropy *cfg, struct virtio_dev **out, struct errbuf *err);
const struct vrng_stats *vrng_stats(const struct virtio_dev *vd);

#endif
