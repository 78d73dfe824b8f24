/* Metrics: one JSON object per line, written every 60 s, on FlushMetrics
 * and when the process ends, in Firecracker's format where it has one
 * (vmm/src/logger/metrics.rs). As there, counters are deltas since the
 * previous line, and the sink is opened non-blocking: a full pipe loses a
 * line (counted in logger.missed_metrics_count) instead of stalling the
 * VMM thread. Ember-only counters sit under "ember_*" keys. */
#include "runtime/control/controller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>


/* Firecracker's WRITE_METRICS_PERIOD_MS. */
#define METRICS_PERIOD_S 60
/* A cap on the counters of one line (64 drives and 64 interfaces with a
 * dozen counters each fit). */
#define METRICS_MAX_COUNTERS 4096

struct controller_metrics {
	int fd;       /* -1 until configured */
	int timer_fd; /* -1 until configured */
	uint64_t *prev; /* each counter's value on the previous line */
	unsigned nr_prev;
	uint64_t missed_lines; /* the sink was full */
	uint64_t write_fails;  /* the sink failed or took part of a line */
};

int controller_metrics_init(struct controller *c)
{
	c->metrics = calloc(1, sizeof(*c->metrics));
	if (!c->metrics)
		return -ENOMEM;
	c->metrics->fd = c->metrics->timer_fd = -1;
	return 0;
}

void controller_metrics_destroy(struct controller *c)
{
	struct controller_metrics *m = c->metrics;
	if (!m)
		return;
	if (m->timer_fd >= 0) {
		evloop_del(c->opts.loop, m->timer_fd);
		close(m->timer_fd);
	}
	if (m->fd >= 0)
		close(m->fd);
	free(m->prev);
	free(m);
	c->metrics = NULL;
}

bool controller_metrics_enabled(struct controller *c)
{
	return c->metrics && c->metrics->fd >= 0;
}

static void metrics_on_timer(void *opaque, uint32_t events)
{
	(void)events;
	struct controller *c = opaque;
	uint64_t ticks;
	ssize_t n = read(c->metrics->timer_fd, &ticks, sizeof(ticks));
	(void)n;
	controller_flush_metrics(c);
}

int controller_set_metrics(struct controller *c, const char *path, struct errbuf *err)
{
	struct controller_metrics *m = c->metrics;
	/* A FIFO without a reader refuses O_WRONLY|O_NONBLOCK (ENXIO);
	 * holding it open for reading too, as Firecracker does, lets it work. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENXIO)
		fd = open(path, O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "metrics_path %s: %s", path, strerror(errno));
	if (m->timer_fd < 0) {
		int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		struct itimerspec its = { .it_interval = { METRICS_PERIOD_S, 0 },
					  .it_value = { METRICS_PERIOD_S, 0 } };
		int r = t < 0 ? -errno : 0;
		if (!r && timerfd_settime(t, 0, &its, NULL) < 0)
			r = -errno;
		if (!r)
			r = evloop_add(c->opts.loop, t, EPOLLIN, metrics_on_timer, c);
		if (r < 0) {
			if (t >= 0)
				close(t);
			close(fd);
			return err_set(err, r, "metrics timer: %s", strerror(-r));
		}
		m->timer_fd = t;
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
	return 0;
}

/* Builds one group of counters, each reported as the change since the
 * previous line. Counters are visited in the same order every time, so
 * the index into prev[] names the counter. */
struct mbuild {
	struct controller_metrics *m;
	unsigned idx;
	bool oom;
};

static void put(struct mbuild *b, json_t *grp, const char *name, uint64_t cur)
{
	struct controller_metrics *m = b->m;
	if (!grp || b->idx >= METRICS_MAX_COUNTERS) {
		b->oom = true;
		return;
	}
	if (b->idx >= m->nr_prev) {
		/* A counter seen for the first time (a device appeared): its
		 * previous value is 0, so the line shows its total. */
		unsigned n = m->nr_prev ? m->nr_prev * 2 : 64;
		uint64_t *np = realloc(m->prev, n * sizeof(*np));
		if (!np) {
			b->oom = true;
			return;
		}
		memset(np + m->nr_prev, 0, (n - m->nr_prev) * sizeof(*np));
		m->prev = np;
		m->nr_prev = n;
	}
	uint64_t delta = cur - m->prev[b->idx];
	m->prev[b->idx++] = cur;
	if (json_object_set_new(grp, name, json_integer((json_int_t)delta)) < 0)
		b->oom = true;
}

static json_t *group(struct mbuild *b, json_t *root, const char *name)
{
	json_t *g = json_object();
	if (!g || json_object_set_new(root, name, g) < 0) {
		b->oom = true;
		return NULL;
	}
	return g;
}

static uint64_t ld(atomic_uint_fast64_t *v)
{
	return v ? (uint64_t)atomic_load(v) : 0;
}

/* Counters of endpoint ep, or 0 without an API server. */
#define CNT(ep) ld(api ? &api->count[ep] : NULL)
#define FAIL(ep) ld(api ? &api->fails[ep] : NULL)

struct ep_name {
	const char *name;
	enum api_endpoint ep;
};

/* One Firecracker group of "<name>_count" / "<name>_fails" pairs. */
static void endpoint_group(struct mbuild *b, json_t *root, const char *group_name,
			   const struct ep_name *eps, size_t n, struct api_counters *api)
{
	char name[48];
	json_t *g = group(b, root, group_name);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s_count", eps[i].name);
		put(b, g, name, CNT(eps[i].ep));
		snprintf(name, sizeof(name), "%s_fails", eps[i].name);
		put(b, g, name, FAIL(eps[i].ep));
	}
}

static void api_groups(struct mbuild *b, json_t *root, struct api_counters *api)
{
	json_t *g = group(b, root, "get_api_requests");
	put(b, g, "instance_info_count", CNT(API_EP_GET_INSTANCE_INFO));
	put(b, g, "machine_cfg_count", CNT(API_EP_GET_MACHINE_CONFIG));
	put(b, g, "mmds_count", CNT(API_EP_GET_MMDS));
	put(b, g, "vmm_version_count", CNT(API_EP_GET_VERSION));

	static const struct ep_name puts_[] = {
		{ "actions", API_EP_PUT_ACTIONS },     { "boot_source", API_EP_PUT_BOOT_SOURCE },
		{ "drive", API_EP_PUT_DRIVE },         { "logger", API_EP_PUT_LOGGER },
		{ "machine_cfg", API_EP_PUT_MACHINE_CONFIG },
		{ "metrics", API_EP_PUT_METRICS },     { "network", API_EP_PUT_NETWORK },
		{ "vsock", API_EP_PUT_VSOCK },         { "entropy", API_EP_PUT_ENTROPY },
		{ "mmds", API_EP_PUT_MMDS },           { "mmds_config", API_EP_PUT_MMDS_CONFIG },
		{ "cpu_cfg", API_EP_PUT_CPU_CONFIG },
	};
	static const struct ep_name patches[] = {
		{ "drive", API_EP_PATCH_DRIVE },
		{ "network", API_EP_PATCH_NETWORK },
		{ "machine_cfg", API_EP_PATCH_MACHINE_CONFIG },
		{ "mmds", API_EP_PATCH_MMDS },
	};
	endpoint_group(b, root, "put_api_requests", puts_, sizeof(puts_) / sizeof(puts_[0]), api);
	endpoint_group(b, root, "patch_api_requests", patches,
		       sizeof(patches) / sizeof(patches[0]), api);
	/* What Firecracker has no counter for. */
	g = group(b, root, "ember_api");
	put(b, g, "requests_count", ld(api ? &api->requests : NULL));
	put(b, g, "failures_count", ld(api ? &api->failures : NULL));
	put(b, g, "invalid_path_count", ld(api ? &api->bad_path : NULL));
	put(b, g, "payload_too_large_count", ld(api ? &api->too_large : NULL));
	put(b, g, "connections_count", ld(api ? &api->connections : NULL));
	put(b, g, "rejected_connections_count", ld(api ? &api->rejected_conns : NULL));
	put(b, g, "request_timeout_count", ld(api ? &api->timed_out : NULL));
	put(b, g, "vm_config_count", CNT(API_EP_GET_VM_CONFIG));
	put(b, g, "patch_vm_count", CNT(API_EP_PATCH_VM));
	put(b, g, "patch_vm_fails", FAIL(API_EP_PATCH_VM));
	put(b, g, "snapshot_create_count", CNT(API_EP_PUT_SNAPSHOT_CREATE));
	put(b, g, "snapshot_create_fails", FAIL(API_EP_PUT_SNAPSHOT_CREATE));
	put(b, g, "snapshot_load_count", CNT(API_EP_PUT_SNAPSHOT_LOAD));
	put(b, g, "snapshot_load_fails", FAIL(API_EP_PUT_SNAPSHOT_LOAD));
	put(b, g, "serial_count", CNT(API_EP_PUT_SERIAL));
	put(b, g, "serial_fails", FAIL(API_EP_PUT_SERIAL));
	put(b, g, "unsupported_count", CNT(API_EP_UNSUPPORTED));
}

#undef CNT
#undef FAIL

struct device_build {
	struct mbuild *b;
	json_t *root;
};

static void device_counter(void *ctx, const char *group_name, const char *name, uint64_t value)
{
	struct device_build *d = ctx;
	json_t *g = json_object_get(d->root, group_name);
	if (!g)
		g = group(d->b, d->root, group_name);
	put(d->b, g, name, value);
}

/* Every device's counters, in its own group ("uart", "block_<id>", ...).
 * Before a VM exists the groups every VM has are written as zeros; devices
 * keep their places in prev[] because the VM lists them in a fixed order,
 * the legacy ones (those zero groups) first. */
static void device_groups(struct controller *c, struct mbuild *b, json_t *root)
{
	struct device_build d = { b, root };
	vm_counters(atomic_load(&c->vm_live) ? &c->vm : NULL, device_counter, &d);
}

int controller_flush_metrics(struct controller *c)
{
	struct controller_metrics *m = c->metrics;
	if (!m || m->fd < 0)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct mbuild b = { .m = m };
	json_t *root = json_object();
	if (!root)
		return -ENOMEM;
	json_object_set_new(root, "utc_timestamp_ms",
			    json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
	/* PUT /metrics' emit_id and properties: top-level, as Firecracker. */
	const struct config_metrics *mc = &c->cfg.metrics;
	if (mc->emit_id && json_object_set_new(root, "id", json_string(c->opts.id)) < 0)
		b.oom = true;
	if (mc->properties && json_object_set(root, "properties", mc->properties) < 0)
		b.oom = true;
	api_groups(&b, root, c->opts.api);
	struct log_stats ls;
	log_get_stats(&ls);
	json_t *g = group(&b, root, "logger");
	put(&b, g, "missed_metrics_count", m->missed_lines);
	put(&b, g, "metrics_fails", m->write_fails);
	put(&b, g, "missed_log_count", ls.missed);
	put(&b, g, "log_fails", ls.fails);
	/* Firecracker's "mmds" group where it has the counter. */
	g = group(&b, root, "mmds");
	put(&b, g, "rx_no_token", c->mmds.stats.rx_no_token);
	put(&b, g, "rx_invalid_token", c->mmds.stats.rx_invalid_token);
	put(&b, g, "ember_requests_count", c->mmds.stats.requests);
	put(&b, g, "ember_failed_requests_count", c->mmds.stats.bad_requests);
	put(&b, g, "ember_tokens_count", c->mmds.stats.tokens_issued);
	device_groups(c, &b, root);
	char *line = b.oom ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!line) {
		m->write_fails++;
		return -ENOMEM;
	}
	size_t len = strlen(line);
	line[len] = '\n'; /* json_dumps' NUL becomes the line end: one write() */
	ssize_t n = write(m->fd, line, len + 1);
	int r = 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		m->missed_lines++;
		r = -EAGAIN;
	} else if (n < 0 || (size_t)n != len + 1) {
		m->write_fails++;
		r = n < 0 ? -errno : -EIO;
	}
	free(line);
	return r;
}
