/* virtio-vsock's connection cap (the rule is in vsock.h): what it is for a
 * configured value and the process's fd limit, and the check that refuses
 * a connection over it. VMM thread only. */
#include <sys/resource.h>

#include "runtime/base/log.h"
#include "virtio/vsock_int.h"

unsigned vsock_conn_limit(uint32_t configured)
{
	struct rlimit rl;
	uint64_t fds = 1024; /* what Linux gives a process by default */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fds = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : rl.rlim_cur;
	if (configured) {
		uint64_t most = fds / 2 ? fds / 2 : 1;
		if (configured <= most)
			return configured;
		log_warn("virtio-vsock: max_connections %u is more than half the fd limit (%llu), "
			 "lowered to %llu",
			 configured, (unsigned long long)fds, (unsigned long long)most);
		return (unsigned)most;
	}
	uint64_t n = fds / 4;
	if (n > VSOCK_DEFAULT_MAX_CONNS)
		n = VSOCK_DEFAULT_MAX_CONNS;
	return n ? (unsigned)n : 1;
}

bool vsock_conn_room(struct vsock *vs)
{
	if (vs->nr_conns < vs->max_conns)
		return true;
	vs->stats.conns_refused++;
	vs->stats.conns_over_limit++;
	/* Once: a guest hammering at the cap must not flood the log. */
	if (!vs->limit_logged) {
		vs->limit_logged = true;
		log_warn("virtio-vsock: %u connections open, the limit: new ones are refused "
			 "(counted in ember_conns_over_limit)",
			 vs->max_conns);
	}
	return false;
}
