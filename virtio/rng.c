#include "virtio/rng.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "runtime/base/log.h"

/* Per request: Linux's hwrng core asks for small amounts; a guest asking
 * for more gets this much and the used length says so (5.4.6.1 lets the
 * device fill less than the buffer). */
#define VRNG_MAX_REQUEST (64 * 1024)
#define VRNG_QUEUE_SIZE 256

struct vrng {
	struct virtio_dev vd; /* first: the transport hands us this pointer */
	struct virtq_chain chain;
	struct vrng_stats stats;
};

/* Fills as much of [p, p+len) as getrandom gives; returns bytes filled. */
static size_t vrng_fill(struct vrng *r, uint8_t *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->stats.errors++;
			log_ratelimited(LOG_ERROR, "virtio-rng: getrandom: %s",
					n < 0 ? strerror(errno) : "no bytes");
			break;
		}
		done += (size_t)n;
	}
	return done;
}

static void vrng_notify(struct virtio_dev *vd, unsigned q)
{
	struct vrng *r = (struct vrng *)vd;
	struct virtq *vq = &vd->vqs[q];
	do {
		while (virtq_pop(vq, &r->chain) == 1) {
			struct virtq_chain *c = &r->chain;
			size_t written = 0;
			/* Readable buffers have no meaning here (5.4.6.1): ignored. */
			for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in; i++) {
				size_t want = c->iov[i].iov_len;
				if (want > VRNG_MAX_REQUEST - written)
					want = VRNG_MAX_REQUEST - written;
				size_t got = vrng_fill(r, c->iov[i].iov_base, want);
				written += got;
				if (got < want || written == VRNG_MAX_REQUEST)
					break;
			}
			r->stats.requests++;
			r->stats.bytes += written;
			virtq_push_chain(vq, c, (uint32_t)written);
		}
	} while (virtq_enable_notify(vq));
	virtio_dev_signal_used(vd, q);
}

static int vrng_activate(struct virtio_dev *vd)
{
	(void)vd;
	return 0;
}

static void vrng_reset(struct virtio_dev *vd)
{
	(void)vd;
}

static void vrng_counters(const struct virtio_dev *vd, device_counter_fn fn, void *ctx)
{
	const struct vrng_stats *s = vrng_stats(vd);
	fn(ctx, "entropy_event_count", s->requests);
	fn(ctx, "entropy_bytes", s->bytes);
	fn(ctx, "host_rng_fails", s->errors);
}

static void vrng_destroy(struct virtio_dev *vd)
{
	free(vd);
}

static int vrng_save(struct virtio_dev *vd, void *buf, size_t len)
{
	(void)vd;
	struct vrng_state st = { .version = VRNG_STATE_VERSION };
	if (len < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int vrng_restore(struct virtio_dev *vd, const void *buf, size_t len)
{
	(void)vd;
	struct vrng_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	return st.version == VRNG_STATE_VERSION ? 0 : -EINVAL;
}

static const struct virtio_dev_ops vrng_ops = {
	.activate = vrng_activate,
	.reset = vrng_reset,
	.queue_notify = vrng_notify,
	.counters = vrng_counters,
	.save = vrng_save,
	.restore = vrng_restore,
	.destroy = vrng_destroy,
};

int vrng_create(const struct config_entropy *cfg, struct virtio_dev **out, struct errbuf *err)
{
	(void)cfg;
	struct vrng *r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(err, -ENOMEM, "virtio-rng: out of memory");
	r->vd = (struct virtio_dev){
		.name = "virtio-rng",
		.device_id = VIRTIO_ID_RNG,
		.ops = &vrng_ops,
		.features = VIRTIO_FEAT_VERSION_1 | VIRTIO_FEAT_EVENT_IDX | VIRTIO_FEAT_INDIRECT_DESC,
		.nr_queues = 1,
		.queue_max = VRNG_QUEUE_SIZE,
	};
	*out = &r->vd;
	return 0;
}

const struct vrng_stats *vrng_stats(const struct virtio_dev *vd)
{
	return &((const struct vrng *)vd)->stats;
}
