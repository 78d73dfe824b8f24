/* MMDS, the microVM metadata service (Firecracker's docs/mmds): a JSON
 * data store the host fills through the API (PUT/PATCH/GET /mmds) and the
 * guest reads over HTTP to a link-local address on the network interfaces
 * named in "mmds-config". docs/mmds.md says what Ember supports.
 *
 * One struct mmds per process, owned by the controller. Threads: every
 * function here runs on the VMM thread only (API actions are applied there,
 * and the net devices' queues are served there: virtio/hub.c), so nothing
 * here takes a lock. */
#ifndef EMBER_MMDS_H
#define EMBER_MMDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/base/err.h"

/* Firecracker's defaults: the data store limit (--mmds-size-limit), the
 * address, the MAC the service answers ARP with. */
#define MMDS_DEFAULT_LIMIT 51200
#define MMDS_DEFAULT_IPV4 0xa9fea9feu /* 169.254.169.254, host order */
#define MMDS_TOKEN_KEY_LEN 32
#define MMDS_TOKEN_TTL_MIN 1
#define MMDS_TOKEN_TTL_MAX 21600

enum mmds_version { MMDS_V1, MMDS_V2 };

struct mmds_stats {
	uint64_t rx_no_token;       /* guest GETs without a token */
	uint64_t rx_invalid_token;  /* guest GETs with a bad or expired token */
	uint64_t tokens_issued;
	uint64_t requests;          /* guest HTTP requests answered */
	uint64_t bad_requests;      /* answered 4xx/5xx */
};

struct mmds {
	json_t *data;     /* NULL until the first PUT (Firecracker: not initialized) */
	size_t limit;     /* bytes of the compact JSON text */
	enum mmds_version version;
	bool imds_compat; /* IMDS text whatever the Accept header says */
	uint32_t ipv4;    /* host order */
	uint8_t mac[6];
	/* Token key: random per process; tokens sign (expiry, aad) with it. */
	uint8_t key[MMDS_TOKEN_KEY_LEN];
	char aad[65];     /* the instance id, bound into every token */
	/* Milliseconds on a clock that never goes back; tests inject theirs. */
	uint64_t (*now_ms)(void *ctx);
	void *now_ctx;
	struct mmds_stats stats;
};

/* Draws the token key (getrandom), warms up libcrypto (it reads its
 * configuration on first use, which must happen before seccomp). */
int mmds_init(struct mmds *m, size_t limit, const char *instance_id, struct errbuf *err);
void mmds_destroy(struct mmds *m);
/* The version, address and compatibility of "mmds-config". */
void mmds_configure(struct mmds *m, enum mmds_version v, uint32_t ipv4, bool imds_compat);

/* --- the data store (mmds/store.c) --- */

/* Replaces the data with obj (referenced, not stolen). -EFBIG over the limit. */
int mmds_put(struct mmds *m, json_t *obj, struct errbuf *err);
/* RFC 7396 merge patch onto the data; -EFBIG if the result is over the
 * limit (nothing changes), -ENOENT before any PUT (as Firecracker). */
int mmds_patch(struct mmds *m, json_t *patch, struct errbuf *err);
/* A new reference to the data, {} before any PUT (GET /mmds). */
json_t *mmds_get_all(const struct mmds *m);
/* The value at a request path ("/a/b", "/a/b/", "//a"): its JSON text, or
 * its IMDS text (an object's keys, sorted, "/" after objects; a string as
 * is). *out is malloc'ed. -ENOENT: no such value; -ENOTSUP: IMDS cannot
 * show it (a number, bool, array, null); -ENOMEM. */
int mmds_get_path(const struct mmds *m, const char *path, size_t path_len, bool json,
		  char **out, size_t *out_len);
/* --- tokens (mmds/token.c) --- */

#define MMDS_TOKEN_TEXT_MAX 96
/* Writes a token valid for ttl seconds; -ERANGE outside 1..21600. */
int mmds_token_new(struct mmds *m, uint32_t ttl, char out[MMDS_TOKEN_TEXT_MAX]);
/* True if tok was made by this process's key and has not expired. */
bool mmds_token_valid(const struct mmds *m, const char *tok, size_t len);

/* --- the guest's HTTP requests (mmds/http.c) --- */

/* Answers one HTTP request whose header block (through "\r\n\r\n") is
 * req[0..len). *resp is a malloc'ed HTTP/1.1 response with
 * "Connection: close". Returns 0 or -ENOMEM. */
int mmds_http_answer(struct mmds *m, const char *req, size_t len, char **resp, size_t *resp_len);

/* The 400 for a request whose header block does not end within
 * MMDS_HTTP_REQ_MAX bytes. */
#define MMDS_HTTP_REQ_MAX 4096
int mmds_http_too_large(struct mmds *m, char **resp, size_t *resp_len);

/* Firecracker's rule for ipv4_address: 169.254.0.0/16 but not its first
 * and last /24. */
bool mmds_ipv4_valid(uint32_t ipv4);

#endif
