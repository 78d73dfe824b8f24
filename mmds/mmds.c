/* The service's life: the token key, the configuration. */
#include "mmds/mmds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t mmds_monotonic_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool mmds_ipv4_valid(uint32_t ip)
{
	return (ip >> 16) == 0xa9fe && ((ip >> 8) & 0xff) != 0 && ((ip >> 8) & 0xff) != 0xff;
}

int mmds_init(struct mmds *m, size_t limit, const char *instance_id, struct errbuf *err)
{
	static const uint8_t mac[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };
	memset(m, 0, sizeof(*m));
	m->limit = limit;
	m->ipv4 = MMDS_DEFAULT_IPV4;
	memcpy(m->mac, mac, sizeof(mac));
	m->now_ms = mmds_monotonic_ms;
	snprintf(m->aad, sizeof(m->aad), "%s", instance_id ? instance_id : "");
	size_t got = 0;
	while (got < sizeof(m->key)) {
		ssize_t r = getrandom(m->key + got, sizeof(m->key) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_set(err, -errno, "MMDS token key: getrandom: %s", strerror(errno));
		got += (size_t)r;
	}
	/* libcrypto loads its configuration and providers on first use: do
	 * that now, before the VMM thread's seccomp filter. */
	char tok[MMDS_TOKEN_TEXT_MAX];
	if (mmds_token_new(m, 1, tok) < 0 || !mmds_token_valid(m, tok, strlen(tok)))
		return err_set(err, -EIO, "MMDS token key: libcrypto's HMAC-SHA256 does not work");
	m->stats.tokens_issued = 0;
	return 0;
}

void mmds_destroy(struct mmds *m)
{
	json_decref(m->data);
	m->data = NULL;
	explicit_bzero(m->key, sizeof(m->key));
}

void mmds_configure(struct mmds *m, enum mmds_version v, uint32_t ipv4, bool imds_compat)
{
	m->version = v;
	m->ipv4 = ipv4;
	m->imds_compat = imds_compat;
}
