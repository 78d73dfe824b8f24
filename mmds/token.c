/* MMDS V2 session tokens. A token is the expiry time and an HMAC-SHA256
 * (OpenSSL's libcrypto) over it and the instance id, under a key drawn at
 * start-up: nothing is stored per token, a token cannot be forged or
 * extended without the key, and none survives the process. Firecracker
 * encrypts the expiry with AES-GCM instead; the expiry is no secret, what
 * matters is that only this process can make a valid token. */
#include "mmds/mmds.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

/* "v1." + 16 hex digits of expiry + "." + 64 hex digits of MAC. */
#define TOKEN_PREFIX "v1."
#define TOKEN_LEN (3 + 16 + 1 + 64)

_Static_assert(TOKEN_LEN < MMDS_TOKEN_TEXT_MAX, "token text must fit");

static int token_mac(const struct mmds *m, uint64_t expiry, uint8_t mac[32])
{
	uint8_t msg[8 + sizeof(m->aad)];
	size_t aad = strnlen(m->aad, sizeof(m->aad) - 1);
	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(expiry >> (8 * i));
	memcpy(msg + 8, m->aad, aad);
	unsigned len = 0;
	if (!HMAC(EVP_sha256(), m->key, sizeof(m->key), msg, 8 + aad, mac, &len) || len != 32)
		return -EIO;
	return 0;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
}

int mmds_token_new(struct mmds *m, uint32_t ttl, char out[MMDS_TOKEN_TEXT_MAX])
{
	if (ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX)
		return -ERANGE;
	uint64_t expiry = m->now_ms(m->now_ctx) + (uint64_t)ttl * 1000;
	uint8_t mac[32];
	if (token_mac(m, expiry, mac) < 0)
		return -EIO;
	snprintf(out, MMDS_TOKEN_TEXT_MAX, TOKEN_PREFIX "%016llx.", (unsigned long long)expiry);
	hex(mac, sizeof(mac), out + 3 + 16 + 1);
	out[TOKEN_LEN] = 0;
	m->stats.tokens_issued++;
	return 0;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool mmds_token_valid(const struct mmds *m, const char *tok, size_t len)
{
	if (len != TOKEN_LEN || memcmp(tok, TOKEN_PREFIX, 3) || tok[3 + 16] != '.')
		return false;
	uint64_t expiry = 0;
	for (int i = 0; i < 16; i++) {
		int d = unhex(tok[3 + i]);
		if (d < 0)
			return false;
		expiry = expiry << 4 | (uint64_t)d;
	}
	uint8_t given[32], want[32];
	for (int i = 0; i < 32; i++) {
		int hi = unhex(tok[20 + 2 * i]), lo = unhex(tok[21 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		given[i] = (uint8_t)(hi << 4 | lo);
	}
	if (token_mac(m, expiry, want) < 0 || CRYPTO_memcmp(given, want, sizeof(want)))
		return false;
	return m->now_ms(m->now_ctx) < expiry;
}
